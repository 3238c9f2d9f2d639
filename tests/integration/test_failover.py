"""`hisguard failover uplink|switch` against fake-switches: failover and fail-back, rollback of a
refused line, unreachable devices and wrong credentials, replacing a dead switch by the spare.

Starts its own three switches on 127.0.0.1 (ports 2241 and up) in a temporary state dir and a
temporary HISGUARD_VAR (runs, backups, incidents, store), so the shared lab switches (2221-2223)
are never touched.
"""

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hisguard import cli, timeline
from hisguard.lab import switches

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.hisguard.infosec.plugins.module_utils import ios_config as ic  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "netmiko_device", ROOT / "plugins/module_utils/netmiko_device.py"
)
nd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nd)

CORE_PRIMARY, CORE_BACKUP = "TenGigabitEthernet1/1/1", "TenGigabitEthernet1/1/2"


def free_base_port(start=2241, count=3):
    for base in range(start, 2400, count):
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
    raise RuntimeError("no free port range on 127.0.0.1 from 2241")


def write_inventory(path, state, credentials=None, overrides=None):
    hosts = switches.inventory_hosts(state)
    for name, values in (overrides or {}).items():
        hosts[name].update(values)
    group = switches.group_vars(state)
    if credentials:
        for key in ("ansible_user", "ansible_password", "ansible_become_password"):
            group[key] = group[key].replace(str(switches.credentials_file(state)), str(credentials))
    (path / "group_vars").mkdir(parents=True, exist_ok=True)
    (path / "group_vars" / "all.yml").write_text(
        yaml.safe_dump({"hisguard_site": {"organization": "hospital"}})
    )
    (path / "group_vars" / "network_devices.yml").write_text(yaml.safe_dump(group))
    (path / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"children": {"network_devices": {"hosts": hosts}}}}, sort_keys=False)
    )
    return path / "hosts.yml"


class Lab:
    def __init__(self, state, var, inventory):
        self.state, self.var, self.inventory = state, var, inventory
        self.creds = switches.read_credentials(switches.credentials_file(state))

    def session(self, name):
        return nd.SwitchSession(
            "127.0.0.1",
            switches.port_for(name),
            self.creds["username"],
            self.creds["password"],
            self.creds["enable_secret"],
            10,
            str(switches.known_hosts_file(self.state)),
        )

    def running(self, name):
        with self.session(name) as s:
            return s.running_config()

    def startup(self, name):
        path = switches.startup_config_file(self.state, name)
        return path.read_text() if path.exists() else None

    def reset(self):
        """Every switch back to its seed: stopped, saved configs and reject rules removed, started."""
        switches.down(self.state)
        for pattern in ("*.startup.yml", "*.reject"):
            for path in switches.switch_dir(self.state).glob(pattern):
                path.unlink()
        switches.up(self.state)

    def stop(self, name):
        """Stop one switch we started (a dead switch), by its pid."""
        pid = int(switches.pid_file(self.state, name).read_text())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not switches.status(self.state)[name]:
                return
            subprocess.run(["sleep", "0.05"], check=False)
        raise AssertionError(f"{name} did not stop")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("switch-state")
    var = tmp_path_factory.mktemp("var")
    mp = pytest.MonkeyPatch()
    mp.setenv(switches.BASE_PORT_ENV, str(free_base_port()))
    mp.setenv("HISGUARD_VAR", str(var))
    mp.delenv("HISGUARD_RESULTS_FILE", raising=False)
    try:
        switches.up(state)
        inventory = write_inventory(tmp_path_factory.mktemp("inventory"), state)
        yield Lab(state, var, inventory)
    finally:
        switches.down(state)
        mp.undo()


def hisguard(capsys, *argv):
    code = cli.main([*argv, "-q"] if argv[0] == "failover" else list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def steps_file(out):
    line = next(line for line in out.splitlines() if line.startswith("steps: "))
    return json.loads(Path(line.removeprefix("steps: ")).read_text())


def run_results(var, run_ident):
    path = next((var / "runs" / run_ident / "artifacts").glob("*/hisguard-results.json"))
    return {(r["host"], r["control"]): r for r in json.loads(path.read_text())["results"]}


# ----------------------------------------------------------------------------------- uplink failover
def test_dry_run_shows_the_exact_commands_and_changes_nothing(lab, capsys):
    before = lab.running("core-sw-01")
    code, out, err = hisguard(
        capsys, "failover", "uplink", "--device", "core-sw-01", "-i", str(lab.inventory)
    )
    assert code == 0, out + err
    plan = [f"interface {CORE_PRIMARY}", "shutdown", "exit", f"interface {CORE_BACKUP}", "no shutdown"]
    assert "".join(f"      {line}\n" for line in plan) in out
    assert "DRY RUN: nothing was sent to the device" in out
    data = steps_file(out)
    assert data["outcome"] == "planned" and data["apply"] is False
    assert [s["step"] for s in data["steps"]] == ["connect", "precheck", "plan"]
    assert lab.running("core-sw-01") == before
    assert lab.startup("core-sw-01") is None


def test_failover_and_failback_are_verified_saved_and_in_the_timeline(lab, capsys):
    seed = lab.running("core-sw-01")
    (lab.var / "incidents").mkdir(exist_ok=True)
    (lab.var / "incidents" / "CURRENT").write_text("INC-20250304T021507Z-a1b2\n")
    try:
        code, out, err = hisguard(
            capsys, "failover", "uplink", "--device", "core-sw-01", "--apply", "-i", str(lab.inventory)
        )
        assert code == 0, out + err
        assert "DONE: applied, verified on the device and saved" in out
        after = lab.running("core-sw-01")
        parsed = nd.parse_running_config(after)["interfaces"]
        assert parsed[CORE_PRIMARY]["shutdown"] is True and parsed[CORE_BACKUP]["shutdown"] is False
        changed = [line for line in ic.differences(seed, after, context=0)[2:] if not line.startswith("@@")]
        assert changed == ["+ shutdown", "- shutdown"]  # primary shut, backup enabled, nothing else
        saved = yaml.safe_load(lab.startup("core-sw-01"))
        assert (
            saved["ports"][CORE_PRIMARY]["shutdown"] is True
            and saved["ports"][CORE_BACKUP]["shutdown"] is False
        )

        data = steps_file(out)
        assert data["outcome"] == "done"
        assert [s["step"] for s in data["steps"]] == [
            "connect", "precheck", "plan", "logging", "apply", "verify", "verify", "save",
        ]  # fmt: skip
        assert all(s["status"] == "ok" for s in data["steps"])
        assert data["details"]["seconds"]["to_verified"] < 5
        found = run_results(lab.var, data["run"])
        assert found[("core-sw-01", "P3.8.3")]["status"] == "pass"
        assert found[("core-sw-01", "P3.8.4")]["status"] == "pass"

        entries = timeline.read("INC-20250304T021507Z-a1b2")
        actions = [e["action"] for e in entries]
        assert actions[0] == "failover.uplink.start" and actions[-1] == "failover.uplink.end"
        assert "failover.uplink.apply" in actions and "failover.uplink.save" in actions
        apply_entry = next(e for e in entries if e["action"] == "failover.uplink.apply")
        assert apply_entry["detail"]["commands"][:2] == [f"interface {CORE_PRIMARY}", "shutdown"]
        assert apply_entry["detail"]["at"].endswith("Z")
        assert entries[-1]["detail"]["outcome"] == "done"

        # a second failover has nothing to do
        code, out, _ = hisguard(
            capsys, "failover", "uplink", "--device", "core-sw-01", "--apply", "-i", str(lab.inventory)
        )
        assert code == 0 and "NOTHING TO DO" in out

        code, out, err = hisguard(
            capsys,
            "failover",
            "uplink",
            "--device",
            "core-sw-01",
            "--back",
            "--apply",
            "-i",
            str(lab.inventory),
        )
        assert code == 0, out + err
        assert "DONE" in out
        plan = [f"interface {CORE_BACKUP}", "shutdown", "exit", f"interface {CORE_PRIMARY}", "no shutdown"]
        assert "".join(f"      {line}\n" for line in plan) in out
        assert ic.same_config(lab.running("core-sw-01"), seed)
        assert timeline.read("INC-20250304T021507Z-a1b2")[-1]["detail"]["outcome"] == "done"
    finally:
        (lab.var / "incidents" / "CURRENT").unlink()


def test_a_refused_line_rolls_back_to_exactly_the_previous_config(lab, capsys):
    lab.reset()
    before, startup_before = lab.running("core-sw-01"), lab.startup("core-sw-01")
    switches.set_rejected_commands(lab.state, "core-sw-01", [rf"^interface {CORE_BACKUP}$"])
    try:
        code, out, err = hisguard(
            capsys, "failover", "uplink", "--device", "core-sw-01", "--apply", "-i", str(lab.inventory)
        )
    finally:
        switches.set_rejected_commands(lab.state, "core-sw-01", [])
    assert code == 1, out + err
    assert "FAILED and ROLLED BACK: the device is exactly as it was before" in out
    assert f"refused configuration: `interface {CORE_BACKUP}`" in out
    assert lab.running("core-sw-01") == before  # byte for byte
    assert lab.startup("core-sw-01") == startup_before
    data = steps_file(out)
    assert data["outcome"] == "rolled_back"
    rollback = [s for s in data["steps"] if s["step"] == "rollback"]
    assert rollback[-1]["status"] == "ok" and rollback[-1]["commands"] == [
        f"interface {CORE_PRIMARY}",
        "no shutdown",
    ]
    found = run_results(lab.var, data["run"])
    assert found[("core-sw-01", "P3.8.3")]["status"] == "fail"
    assert found[("core-sw-01", "P3.8.4")]["status"] == "pass"


def test_a_rollback_that_cannot_restore_says_so(lab, capsys):
    switches.set_rejected_commands(lab.state, "core-sw-01", [r"^no shutdown$"])
    try:
        code, out, _ = hisguard(
            capsys, "failover", "uplink", "--device", "core-sw-01", "--apply", "-i", str(lab.inventory)
        )
    finally:
        switches.set_rejected_commands(lab.state, "core-sw-01", [])
    assert code == 1
    assert "the ROLLBACK DID NOT RESTORE the device: go to it and restore it by hand" in out
    assert "still differs" in out
    lab.reset()


def test_an_unreachable_device_changes_nothing(lab, capsys, tmp_path):
    closed = free_base_port(start=2390, count=1)
    inventory = write_inventory(tmp_path, lab.state, overrides={"core-sw-01": {"ansible_port": closed}})
    code, out, err = hisguard(
        capsys, "failover", "uplink", "--device", "core-sw-01", "--apply", "-i", str(inventory)
    )
    assert code == 1, out + err
    assert "FAILED before any change: nothing was changed" in out
    assert f"cannot open a TCP connection to 127.0.0.1:{closed}" in out
    assert steps_file(out)["steps"][0]["step"] == "connect"


def test_wrong_credentials_change_nothing(lab, capsys, tmp_path):
    before, startup_before = lab.running("core-sw-01"), lab.startup("core-sw-01")
    wrong = tmp_path / "wrong.yml"
    wrong.write_text(
        yaml.safe_dump({"username": "hisadmin", "password": "not-the-password", "enable_secret": "x"})
    )
    wrong.chmod(0o600)
    inventory = write_inventory(tmp_path / "inv", lab.state, credentials=wrong)
    code, out, err = hisguard(
        capsys, "failover", "uplink", "--device", "core-sw-01", "--apply", "-i", str(inventory)
    )
    assert code == 1, out + err
    assert "FAILED before any change: nothing was changed" in out
    assert "was refused: check the username and password" in out
    assert lab.running("core-sw-01") == before and lab.startup("core-sw-01") == startup_before


def test_an_unknown_device_is_a_usage_error(lab, capsys):
    code, out, err = hisguard(
        capsys, "failover", "uplink", "--device", "core-sw-09", "-i", str(lab.inventory)
    )
    assert code == 2
    assert "core-sw-09 is not in the network_devices group of the inventory" in err
    assert "Traceback" not in out + err


# ----------------------------------------------------------------------------------- spare switch
def test_a_dead_access_switch_is_replaced_by_the_spare(lab, capsys):
    code, out, err = hisguard(
        capsys, "netconfig", "backup", "-q", "-i", str(lab.inventory), "--limit", "access-sw-01"
    )
    assert code == 0, out + err
    backup = (lab.var / "netconfig" / "configs" / "access-sw-01.cfg").read_text()
    lab.stop("access-sw-01")
    try:
        spare_before = lab.running("spare-sw-01")
        code, out, err = hisguard(
            capsys,
            "failover",
            "switch",
            "--failed",
            "access-sw-01",
            "--spare",
            "spare-sw-01",
            "-i",
            str(lab.inventory),
        )
        assert code == 0, out + err
        assert "DRY RUN" in out and lab.running("spare-sw-01") == spare_before

        code, out, err = hisguard(
            capsys,
            "failover", "switch", "--failed", "access-sw-01", "--spare", "spare-sw-01", "--apply",
            "-i", str(lab.inventory),
        )  # fmt: skip
        assert code == 0, out + err
        assert "DONE" in out and "WARNING" not in out
        expected = ic.adjust_identity(backup, "spare-sw-01", "Vlan99", "10.99.0.12")
        running = lab.running("spare-sw-01")
        assert ic.same_config(running, expected), "\n".join(ic.differences(expected, running))
        assert "description OUTPATIENT clinic workstation" in running and "SPARE" not in running
        saved = yaml.safe_load(lab.startup("spare-sw-01"))
        assert saved["hostname"] == "spare-sw-01" and saved["svis"][99]["addresses"] == ["10.99.0.12/24"]
        data = steps_file(out)
        assert data["outcome"] == "done" and data["details"]["failed"] == "access-sw-01"
        found = run_results(lab.var, data["run"])
        assert found[("spare-sw-01", "P3.8.3")]["status"] == "pass"
    finally:
        switches.up(lab.state)


def test_a_failed_push_leaves_the_spare_exactly_as_it_was(lab, capsys):
    lab.reset()
    before, startup_before = lab.running("spare-sw-01"), lab.startup("spare-sw-01")
    switches.set_rejected_commands(lab.state, "spare-sw-01", [r"^description PHARMACY"])
    try:
        code, out, err = hisguard(
            capsys,
            "failover", "switch", "--failed", "access-sw-01", "--spare", "spare-sw-01", "--apply",
            "-i", str(lab.inventory),
        )  # fmt: skip
    finally:
        switches.set_rejected_commands(lab.state, "spare-sw-01", [])
    assert code == 1, out + err
    assert "WARNING: access-sw-01 still answers on its SSH port" in out
    assert "FAILED and ROLLED BACK" in out
    assert lab.running("spare-sw-01") == before
    assert lab.startup("spare-sw-01") == startup_before
    apply_step = next(s for s in steps_file(out)["steps"] if s["step"] == "apply")
    assert apply_step["status"] == "failed" and len(apply_step["applied"]) > 10


def test_no_password_in_any_artifact_or_report(lab, capsys):
    code, out, err = hisguard(capsys, "report", "--format", "json")
    assert code == 0, out + err
    secrets = [lab.creds["password"], lab.creds["enable_secret"]]
    leaks = []
    for path in lab.var.rglob("*"):
        if path.is_file() and "configs" not in path.parts:  # configs/ holds the restorable copies
            data = path.read_bytes()
            leaks += [str(path) for s in secrets if s.encode() in data]
    assert leaks == []
    assert any((lab.var / "runs").iterdir())
