"""`hisguard drill fault` end to end (P3.9.2): inject, diagnose, recover, verify, put back, report.

The switch scenarios run on three switches of their own (127.0.0.1, ports from 2261, a temporary
state dir and HISGUARD_VAR), the database scenario on a container of its own (from the lab image,
no network, reached with podman exec): the shared lab is never touched here. Running the drills on
the shared lab is `hisguard drill fault --scenario ...` (docs/oncall.md).
"""

import json
import os
import socket
import time
from pathlib import Path

import pytest
import yaml

from hisguard import faultdrill, notify
from hisguard import incident_timeline as tl
from hisguard.lab import podman, switches
from hisguard.store import Store

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
CORE_PRIMARY, CORE_BACKUP = "TenGigabitEthernet1/1/1", "TenGigabitEthernet1/1/2"
DB_CONTAINER = "incident-drill-srv-his"


def free_base_port(start=2261, count=3):
    for base in range(start, 2500, count):
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free port range on 127.0.0.1 from 2261")


@pytest.fixture(scope="module")
def private_var(tmp_path_factory):
    var = tmp_path_factory.mktemp("drill-var")
    saved = {k: os.environ.get(k) for k in ("HISGUARD_VAR", "HISGUARD_DB", switches.BASE_PORT_ENV)}
    os.environ["HISGUARD_VAR"] = str(var)
    os.environ["HISGUARD_DB"] = str(var / "hisguard.db")
    yield var
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def switch_lab(private_var):
    os.environ[switches.BASE_PORT_ENV] = str(free_base_port())
    state = private_var / "lab"
    switches.up(state)
    inventory = private_var / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text(
        yaml.safe_dump({"hisguard_site": {"organization": "hospital"}})
    )
    (inventory / "group_vars" / "network_devices.yml").write_text(yaml.safe_dump(switches.group_vars(state)))
    hosts = {"all": {"children": {"network_devices": {"hosts": switches.inventory_hosts(state)}}}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    target = faultdrill.LabTarget(
        inventory=inventory / "hosts.yml",
        switch_state_dir=state,
        containers={},
        netconfig_dir=private_var / "netconfig",
    )
    yield target
    switches.down(state)


def timeline_actions(incident_id):
    with Store() as store:
        return [e.action for e in tl.load(store, incident_id).entries]


def check_report(result):
    assert result.reports, "the drill writes its report"
    html = next(p for p in result.reports if p.name == "report.zh.html").read_text(encoding="utf-8")
    assert "应急预案演练报告" in html and "从注入故障到恢复" in html
    data = json.loads(next(p for p in result.reports if p.name == "report.en.json").read_text())
    assert data["incident"]["drill"] is True and data["drill"]["recovered"] is True
    names = [s["name"] for s in data["drill"]["steps"] if not s["name"].startswith("prepare:")]
    assert names[:2] == ["inject the fault", "diagnose"] and names[-1] == "put the lab back"
    return data


def test_core_uplink_down_drill(switch_lab):
    startup = switches.startup_config_file(switch_lab.switch_state_dir.resolve(), "core-sw-01")
    core_startup = startup.read_bytes() if startup.exists() else None
    with notify.LocalReceiver() as rx:
        settings = notify.Settings(webhook=notify.Webhook(rx.webhook_url))
        result = faultdrill.run_drill("core-uplink-down", switch_lab, settings=settings)
        assert [p["deadline"] for p in rx.posts] == ["opened"] and rx.posts[0]["drill"] is True
    assert result.ok, (result.problems, result.steps)
    assert result.time_to_recovery and result.time_to_recovery > 0
    assert tl.current_id() is None, "the drill incident is resolved and no longer current"
    actions = timeline_actions(result.incident_id)
    for expected in (
        "incident.open",
        "drill.inject",
        "incident.step",
        "incident.run",
        "failover.uplink.start",  # the failover library's own entries land in the drill's timeline
        "failover.uplink.end",
        "drill.status",
        "incident.resolve",
        "drill.summary",
        "incident.review",
        "incident.report",
    ):
        assert expected in actions, expected
    data = check_report(result)
    steps = {a["step"]: a for a in data["actions"]}
    assert steps["failover-uplink"]["ok"] and steps["diagnose"]["ok"]
    state = faultdrill.switch_uplinks(switch_lab, "core-sw-01")["uplinks"]
    assert (state["primary"]["shutdown"], state["backup"]["shutdown"]) == (False, True), "put back"
    startup = switches.startup_config_file(switch_lab.switch_state_dir.resolve(), "core-sw-01")
    assert (startup.read_bytes() if startup.exists() else None) == core_startup, "saved config put back"
    moments = [json.loads(json.dumps(e["detail"])) for e in data["timeline"] if e["action"] == "drill.status"]
    assert any("failover-uplink --device core-sw-01" in " ".join(m["next_steps"]) for m in moments)


def test_access_switch_dead_drill(switch_lab):
    spare_startup = switches.startup_config_file(switch_lab.switch_state_dir.resolve(), "spare-sw-01")
    before = spare_startup.read_bytes() if spare_startup.exists() else None
    result = faultdrill.run_drill("access-switch-dead", switch_lab, settings=notify.Settings())
    assert result.ok, (result.problems, result.steps)
    assert "prepare: back up the switch configuration" in [s.name for s in result.steps]
    status = switches.status(switch_lab.switch_state_dir)
    assert status["access-sw-01"] and status["spare-sw-01"], "both switches run again"
    after = spare_startup.read_bytes() if spare_startup.exists() else None
    assert after == before, "the spare's saved configuration is as before the drill"
    data = check_report(result)
    assert "replace-switch" in [a["step"] for a in data["actions"]]


def test_a_drill_refuses_to_start_while_an_incident_is_open(switch_lab):
    with Store() as store:
        incident_id = tl.open_incident(store, {"org": "hospital", "class": "2", "summary": "x"}, drill=False)
    try:
        with pytest.raises(Exception, match="no drill while an incident"):
            faultdrill.run_drill("core-uplink-down", switch_lab, settings=notify.Settings())
    finally:
        tl.close_current(incident_id)


def test_a_lab_not_in_its_normal_state_is_refused_before_any_fault(switch_lab):
    faultdrill.configure_switch(
        switch_lab, "core-sw-01", [f"interface {CORE_BACKUP}", "no shutdown"], save=False
    )
    try:
        with pytest.raises(Exception, match="not in its normal state"):
            faultdrill.run_drill("core-uplink-down", switch_lab, settings=notify.Settings())
        assert tl.current_id() is None
    finally:
        faultdrill.configure_switch(
            switch_lab, "core-sw-01", [f"interface {CORE_BACKUP}", "shutdown"], save=False
        )


# ------------------------------------------------------------------------------------ the database
@pytest.fixture(scope="module")
def db_lab(private_var):
    podman.run("rm", "-f", "-t", "2", DB_CONTAINER, check=False)
    podman.run(
        "run",
        "-d",
        "--name",
        DB_CONTAINER,
        "--hostname",
        "srv-his",
        "--network",
        "none",
        "--systemd=always",
        "localhost/hisguard-lab:latest",
        "/sbin/init",
    )
    try:
        deadline = time.monotonic() + 90
        state = ""
        while time.monotonic() < deadline:
            state = podman.run(
                "exec", DB_CONTAINER, "systemctl", "is-system-running", check=False
            ).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        else:
            pytest.skip(
                f"a new systemd container does not finish booting (state {state!r}); on a busy machine "
                "fs.inotify.max_user_instances (128 by default) runs out"
            )
        podman.run("exec", DB_CONTAINER, "mkdir", "-p", "/tmp/lab-provision")
        podman.run(
            "cp",
            str(ROOT / "src/hisguard/lab/provision/his.sql"),
            f"{DB_CONTAINER}:/tmp/lab-provision/his.sql",
        )
        script = (ROOT / "src/hisguard/lab/provision/his_db.sh").read_text()
        proc = podman.run("exec", "-i", DB_CONTAINER, "bash", "-s", input=script, check=False)
        assert proc.returncode == 0, proc.stderr
        inventory = private_var / "db-inventory"
        inventory.mkdir()
        hosts = {
            "all": {
                "children": {
                    "linux": {"hosts": {"srv-his": {"ansible_host": DB_CONTAINER}}},
                    "servers": {"hosts": {"srv-his": {}}},
                    "his_db": {"hosts": {"srv-his": {}}},
                },
                "vars": {
                    "ansible_connection": "containers.podman.podman",
                    "ansible_python_interpreter": "/usr/bin/python3",
                },
            }
        }
        (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
        yield faultdrill.LabTarget(inventory=inventory / "hosts.yml", containers={"srv-his": DB_CONTAINER})
    finally:
        podman.run("rm", "-f", "-t", "2", DB_CONTAINER, check=False)


def test_his_db_down_drill(db_lab):
    assert faultdrill.db_answers(db_lab)
    result = faultdrill.run_drill("his-db-down", db_lab, settings=notify.Settings())
    assert result.ok, (result.problems, result.steps)
    assert faultdrill.db_answers(db_lab), "the database answers after the drill"
    data = check_report(result)
    assert [a["step"] for a in data["actions"]] == ["diagnose", "restart-service", "diagnose"]
    assert data["drill"]["steps"][1]["ok"] and "diagnosis_agreed" in json.dumps(data["timeline"])
