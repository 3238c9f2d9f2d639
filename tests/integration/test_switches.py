"""The lab's emulated switches (hisguard.lab.switches + hisguard.lab.fakeswitch) and the collection's
netmiko helper and switch_facts module against them.

Starts its own three switches on 127.0.0.1 in a temporary state dir, on ports of its own
(HISGUARD_LAB_SWITCH_BASE_PORT), and stops them at the end; no podman lab needed.
"""

import importlib.util
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from netmiko import ConnectHandler

from hisguard.errors import UserError
from hisguard.lab import switches

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "netmiko_device", ROOT / "plugins" / "module_utils" / "netmiko_device.py"
)
nd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nd)


def _free_base_port(count: int = len(switches.SWITCH_NAMES)) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1 (above the lab's default range)."""
    for base in range(23221, 60000, 10):
        try:
            sockets = []
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
    raise RuntimeError("no free port range on 127.0.0.1")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("lab-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(switches.BASE_PORT_ENV, str(_free_base_port()))
        t0 = time.monotonic()
        started = switches.up(state)
        startup_seconds = time.monotonic() - t0
        try:
            yield {"state": state, "started": started, "startup_seconds": startup_seconds}
        finally:
            switches.down(state)


@pytest.fixture(scope="module")
def creds(lab):
    return switches.read_credentials(switches.credentials_file(lab["state"]))


def session(lab, creds, name, **overrides):
    args = {
        "host": "127.0.0.1",
        "port": switches.port_for(name),
        "username": creds["username"],
        "password": creds["password"],
        "secret": creds["enable_secret"],
        "timeout": 10,
        "known_hosts": str(switches.known_hosts_file(lab["state"])),
    }
    args.update(overrides)
    return nd.SwitchSession(**args)


def _pids(state: Path) -> dict[str, int]:
    return {n: int(switches.pid_file(state, n).read_text()) for n in switches.SWITCH_NAMES}


# ----------------------------------------------------------------------------- lifecycle
def test_up_starts_every_switch_quickly_and_is_idempotent(lab):
    assert lab["started"] == list(switches.SWITCH_NAMES)
    assert lab["startup_seconds"] < 15
    assert switches.status(lab["state"]) == dict.fromkeys(switches.SWITCH_NAMES, True)
    assert switches.up(lab["state"]) == []


def test_credentials_file_is_private_and_complete(lab, creds):
    path = switches.credentials_file(lab["state"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert creds["username"] == "hisadmin"
    assert len(creds["password"]) >= 20 and len(creds["enable_secret"]) >= 20
    assert creds["password"] != creds["enable_secret"]


def test_inventory_and_group_vars(lab):
    hosts = switches.inventory_hosts(lab["state"])
    assert [hosts[n]["ansible_port"] for n in switches.SWITCH_NAMES] == [
        switches.port_for(n) for n in switches.SWITCH_NAMES
    ]
    assert {h["ansible_host"] for h in hosts.values()} == {"127.0.0.1"}
    assert [hosts[n]["hisguard_switch_role"] for n in switches.SWITCH_NAMES] == ["core", "access", "spare"]
    group = switches.group_vars(lab["state"])
    assert group["ansible_become_method"] == "enable"
    for key in ("ansible_user", "ansible_password", "ansible_become_password"):
        assert group[key].startswith("{{ (lookup('ansible.builtin.file', ")
    assert not any(
        s in yaml.safe_dump(group)
        for s in switches.read_credentials(switches.credentials_file(lab["state"])).values()
        if s != "hisadmin"
    )


# ----------------------------------------------------------------------------- netmiko
@pytest.mark.parametrize("name", switches.SWITCH_NAMES)
def test_show_running_config_on_every_switch(lab, creds, name):
    seed = switches.load_seed(name)
    with session(lab, creds, name) as s:
        t0 = time.monotonic()
        text = s.show("show running-config")
        assert time.monotonic() - t0 < 5
    parsed = nd.parse_running_config(text)
    assert parsed["hostname"] == name
    primary = parsed["interfaces"][seed["uplinks"]["primary"]]
    backup = parsed["interfaces"][seed["uplinks"]["backup"]]
    assert (primary["shutdown"], backup["shutdown"]) == (False, True)
    assert primary["mode"] == backup["mode"] == "trunk"
    assert parsed["interfaces"]["Vlan99"]["ip"] == seed["svis"][99]["address"]
    assert [f"vlan {n}" in text for n in (10, 20, 30, 40, 99)] == [True] * 5


def test_vlans_and_version(lab, creds):
    with session(lab, creds, "access-sw-01") as s:
        vlans = nd.parse_show_vlan(s.show("show vlan brief"))
        version = nd.parse_show_version(s.show("show version"))
    assert {n: v["name"] for n, v in vlans.items()} == {
        1: "default",
        10: "OUTPATIENT",
        20: "INPATIENT",
        30: "PHARMACY",
        40: "LAB-IMAGING",
        99: "MGMT",
    }
    assert "GigabitEthernet1/0/1" in vlans[10]["ports"]
    assert not any(p.startswith("TenGigabit") for v in vlans.values() for p in v["ports"])  # trunks
    assert version == {
        "version": "15.2(7)E8",
        "model": "WS-C2960X-24TD-L",
        "serial": "FOC2145X0GH",
        "hostname": "access-sw-01",
        "image": "flash:/c2960x-universalk9-mz.152-7.E8.bin",
        "uptime": version["uptime"],
    }


def test_commands_that_broke_stock_fake_switches(lab, creds):
    with session(lab, creds, "core-sw-01") as s:
        brief = s.show("show ip interface brief")
        status = s.show("show interfaces status")
        assert s.show("show privilege").strip() == "Current privilege level is 15"
        assert "Current privilege level is 15" in s.show("show privilege")  # session survived
    assert "TenGigabitEthernet1/1/2" in brief and "administratively down" in brief
    assert "Vlan99" in brief and "10.99.0.2" in brief
    assert "Te1/1/1" in status and "disabled" in status


def test_enable_needs_the_random_secret(lab, creds):
    port = switches.port_for("spare-sw-01")
    conn = ConnectHandler(
        device_type="cisco_ios",
        host="127.0.0.1",
        port=port,
        username=creds["username"],
        password=creds["password"],
        secret=creds["enable_secret"],
    )
    try:
        assert conn.find_prompt() == "spare-sw-01>"
        assert not conn.check_enable_mode()
        conn.enable()
        assert conn.find_prompt() == "spare-sw-01#"
    finally:
        conn.disconnect()
    for wrong in ("wrong-secret", ""):
        with pytest.raises(
            nd.SwitchError, match=r"enable on 127\.0\.0\.1:\d+ was refused: check the enable secret"
        ):
            session(lab, creds, "spare-sw-01", secret=wrong).open()


def test_wrong_password_gives_a_clear_error(lab, creds):
    port = switches.port_for("core-sw-01")
    with pytest.raises(nd.SwitchError) as err:
        session(lab, creds, "core-sw-01", password="not-the-password").open()
    assert str(err.value).startswith(
        f"SSH login to 127.0.0.1:{port} was refused: check the username and password"
    )


def test_unknown_host_key_is_refused_when_known_hosts_is_given(lab, creds, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(nd.SwitchError, match="is not in"):
        session(lab, creds, "core-sw-01", known_hosts=str(empty)).open()


def test_send_config_set_with_end_and_save(lab, creds):
    port = switches.port_for("access-sw-01")
    conn = ConnectHandler(
        device_type="cisco_ios",
        host="127.0.0.1",
        port=port,
        username=creds["username"],
        password=creds["password"],
        secret=creds["enable_secret"],
    )
    try:
        conn.enable()
        out = conn.send_config_set(
            ["interface GigabitEthernet1/0/23", "description RESERVED test", "no shutdown"]
        )
        assert out.rstrip().endswith("access-sw-01#")  # left config mode with `end`
        assert "No such command" not in out and "% Invalid" not in out
        running = nd.parse_running_config(conn.send_command("show running-config interface Gi1/0/23"))
        assert running["interfaces"]["GigabitEthernet1/0/23"]["description"] == "RESERVED test"
        assert running["interfaces"]["GigabitEthernet1/0/23"]["shutdown"] is False
        assert "RESERVED test" not in conn.send_command("show startup-config")  # not saved yet
        conn.send_config_set(["interface GigabitEthernet1/0/23", "description UNUSED", "shutdown"])
        assert "[OK]" in conn.save_config()
        startup = conn.send_command("show startup-config").split("\n", 1)[1]
        running = (
            conn.send_command("show running-config").split("Current configuration", 1)[1].split("\n", 1)[1]
        )
        assert startup == running
    finally:
        conn.disconnect()
    saved = yaml.safe_load(switches.startup_config_file(lab["state"], "access-sw-01").read_text())
    assert saved["ports"]["GigabitEthernet1/0/23"] == {
        "description": "UNUSED",
        "mode": "access",
        "vlan": 99,
        "shutdown": True,
    }


def test_reject_rule_refuses_one_command(lab, creds):
    path = switches.set_rejected_commands(lab["state"], "core-sw-01", [r"^no shutdown$"])
    try:
        with session(lab, creds, "core-sw-01") as s:
            with pytest.raises(
                nd.SwitchError, match=r"refused configuration: `no shutdown`: % Invalid input"
            ):
                s.configure(["interface TenGigabitEthernet1/1/2", "no shutdown"])
            assert (
                nd.parse_running_config(s.show("show running-config"))["interfaces"][
                    "TenGigabitEthernet1/1/2"
                ]["shutdown"]
                is True
            )
            switches.set_rejected_commands(lab["state"], "core-sw-01", [])
            assert not path.exists()
            s.configure(
                ["interface TenGigabitEthernet1/1/2", "description UPLINK-BACKUP checked", "shutdown"]
            )
    finally:
        switches.set_rejected_commands(lab["state"], "core-sw-01", [])
    log = switches.log_file(lab["state"], "core-sw-01").read_text()
    assert "rejected configuration command 'no shutdown'" in log


def test_switch_facts_playbook_prints_the_table(lab, tmp_path):
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    hosts = {"all": {"children": {"network_devices": {"hosts": switches.inventory_hosts(lab["state"])}}}}
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inv / "group_vars" / "network_devices.yml").write_text(yaml.safe_dump(switches.group_vars(lab["state"])))
    env = dict(os.environ, HISGUARD_RESULTS_FILE=str(tmp_path / "results.json"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(inv / "hosts.yml"),
            "playbooks/lab_facts.yml",
            "--limit",
            "network_devices",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if "switch 127.0.0.1:" in line]
    assert len(rows) == 3, proc.stdout
    for name in switches.SWITCH_NAMES:
        row = next(r for r in rows if r.strip().lstrip("-\"' ").startswith(f"{name} "))
        assert " up " in row and "IOS 15.2" in row, row
    # the secrets never reach the output
    creds = switches.read_credentials(switches.credentials_file(lab["state"]))
    assert creds["password"] not in proc.stdout and creds["enable_secret"] not in proc.stdout


# ----------------------------------------------------------------------------- secrets and refusals
def test_secrets_never_in_argv_or_logs(lab, creds):
    with session(lab, creds, "core-sw-01") as s:  # a login and an enable happened (also failed ones above)
        s.show("show privilege")
    for name, pid in _pids(lab["state"]).items():
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert "hisguard.lab.fakeswitch" in argv
        log = switches.log_file(lab["state"], name).read_text()
        for secret in (creds["password"], creds["enable_secret"]):
            assert secret not in argv
            assert secret not in log
    assert "(password entered at prompt)" in switches.log_file(lab["state"], "core-sw-01").read_text()


def test_launcher_refuses_credentials_readable_by_others(lab, tmp_path):
    loose = tmp_path / "creds.yml"
    loose.write_text(switches.credentials_file(lab["state"]).read_text())
    loose.chmod(0o644)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hisguard.lab.fakeswitch",
            "--name",
            "core-sw-01",
            "--port",
            "1",
            "--credentials",
            str(loose),
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "has mode 0644" in proc.stderr and f"chmod 600 {loose}" in proc.stderr
    with pytest.raises(UserError, match="must be 0600 or 0400"):
        switches.read_credentials(loose)


def test_up_refuses_a_port_in_use(tmp_path, monkeypatch):
    base = _free_base_port()
    monkeypatch.setenv(switches.BASE_PORT_ENV, str(base))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base))
        squatter.listen()
        with pytest.raises(UserError, match=rf"127\.0\.0\.1:{base} is already in use"):
            switches.up(tmp_path)
    assert not any(switches.status(tmp_path).values())


# ----------------------------------------------------------------------------- persistence and down
def test_saved_config_survives_restart_and_down_leaves_nothing(lab, creds):
    state = lab["state"]
    with session(lab, creds, "spare-sw-01") as s:
        s.configure(["interface TenGigabitEthernet1/0/2", "description UPLINK-BACKUP saved", "no shutdown"])
        s.save()
    pids = _pids(state)
    assert switches.down(state) == list(switches.SWITCH_NAMES)
    assert switches.status(state) == dict.fromkeys(switches.SWITCH_NAMES, False)
    assert not any(switches.pid_file(state, n).exists() for n in switches.SWITCH_NAMES)
    for pid in pids.values():
        assert not Path(f"/proc/{pid}/cmdline").exists() or not Path(f"/proc/{pid}/cmdline").read_bytes()
    assert switches.down(state) == []

    assert switches.up(state) == list(switches.SWITCH_NAMES)
    with session(lab, creds, "spare-sw-01") as s:
        backup = nd.parse_running_config(s.show("show running-config"))["interfaces"][
            "TenGigabitEthernet1/0/2"
        ]
    assert (backup["description"], backup["shutdown"]) == ("UPLINK-BACKUP saved", False)
