"""`hisguard netconfig backup` against fake-switches: restorable and sanitized copies in a git
repository (one commit per change), vault encryption, redundancy results (P3.9.1.3, P2.4.10), and
no secret in sanitized copies, artifacts or reports.

Starts its own three switches on 127.0.0.1 (ports 2241 and up) in a temporary state dir and a
temporary HISGUARD_VAR, so the shared lab switches (2221-2223) are never touched.
"""

import importlib.util
import json
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hisguard import cli
from hisguard.lab import switches
from hisguard.runner import run_playbook

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "netmiko_device", ROOT / "plugins/module_utils/netmiko_device.py"
)
nd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nd)


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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("switch-state")
    var = tmp_path_factory.mktemp("var")
    inv = tmp_path_factory.mktemp("inventory")
    mp = pytest.MonkeyPatch()
    mp.setenv(switches.BASE_PORT_ENV, str(free_base_port()))
    mp.setenv("HISGUARD_VAR", str(var))
    mp.delenv("HISGUARD_RESULTS_FILE", raising=False)
    try:
        switches.up(state)
        (inv / "group_vars").mkdir()
        (inv / "group_vars" / "network_devices.yml").write_text(yaml.safe_dump(switches.group_vars(state)))
        hosts = {"all": {"children": {"network_devices": {"hosts": switches.inventory_hosts(state)}}}}
        (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
        creds = switches.read_credentials(switches.credentials_file(state))
        yield {"state": state, "var": var, "inventory": str(inv / "hosts.yml"), "creds": creds}
    finally:
        switches.down(state)
        mp.undo()


@pytest.fixture(scope="module")
def vault_password(tmp_path_factory):
    path = tmp_path_factory.mktemp("vault") / "vault-password"
    path.write_text("correct horse battery staple\n")
    path.chmod(0o600)
    return str(path)


def session(lab, name):
    c = lab["creds"]
    return nd.SwitchSession(
        "127.0.0.1",
        switches.port_for(name),
        c["username"],
        c["password"],
        c["enable_secret"],
        10,
        str(switches.known_hosts_file(lab["state"])),
    )


def hisguard(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def backup(lab, capsys, *extra):
    return hisguard(capsys, "netconfig", "backup", "-q", "-i", lab["inventory"], *extra)


def git(lab, *args):
    return subprocess.run(
        ["git", "-C", str(lab["var"] / "netconfig"), *args], capture_output=True, text=True, check=True
    ).stdout


def latest_results(lab):
    runs = sorted((lab["var"] / "runs").iterdir())
    path = next((runs[-1] / "artifacts").glob("*/hisguard-results.json"))
    return {(r["host"], r["control"]): r for r in json.loads(path.read_text())["results"]}


def device_lines(out):
    return {line.split()[0]: line for line in out.splitlines() if line.endswith("lines") or " lines " in line}


def test_first_backup_is_committed_private_and_restorable(lab, capsys):
    code, out, err = backup(lab, capsys)
    assert code == 0, out + err
    rows = device_lines(out)
    assert {name: row.split()[1] for name, row in rows.items()} == dict.fromkeys(
        switches.SWITCH_NAMES, "first"
    )
    assert "committed " in out
    repo = lab["var"] / "netconfig"
    assert stat.S_IMODE(repo.stat().st_mode) == 0o700
    for path in [p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for name in switches.SWITCH_NAMES:
        with session(lab, name) as s:
            running = s.running_config()
        assert (repo / "configs" / f"{name}.cfg").read_text() == running  # as the device prints it
        assert (repo / "sanitized" / f"{name}.cfg").read_text() == running  # no secrets in the lab's
    assert len(git(lab, "log", "--format=%H").split()) == 1

    results = latest_results(lab)
    for name in switches.SWITCH_NAMES:
        assert results[(name, "P2.4.10")]["status"] == "pass"
        redundancy = results[(name, "P3.9.1.3")]
        assert redundancy["status"] == "pass", redundancy
        assert redundancy["observed"]["spare_switches_answering"] == ["spare-sw-01"]


def test_unchanged_configs_make_no_commit(lab, capsys):
    code, out, _ = backup(lab, capsys)
    assert code == 0
    assert {row.split()[1] for row in device_lines(out).values()} == {"unchanged"}
    assert "no change: nothing committed" in out
    assert len(git(lab, "log", "--format=%H").split()) == 1


def test_a_change_is_detected_and_its_diff_committed(lab, capsys):
    with session(lab, "access-sw-01") as s:
        s.configure(["interface GigabitEthernet1/0/23", "description RESERVED ward 3 printer"])
    # the audit (hisguard_mode=audit, as audit.yml would import it) reports the change, writes nothing
    head = git(lab, "rev-parse", "HEAD")
    files = {p: p.read_bytes() for p in (lab["var"] / "netconfig").rglob("*.cfg")}
    audit = run_playbook(
        "netconfig_backup.yml", inventory=lab["inventory"], extravars={"hisguard_mode": "audit"}
    )
    assert audit.ok
    observed = latest_results(lab)[("access-sw-01", "P2.4.10")]
    assert observed["status"] == "pass"
    assert observed["observed"].endswith("differs from the last backup +1 -1 lines")
    assert git(lab, "rev-parse", "HEAD") == head
    assert files == {p: p.read_bytes() for p in (lab["var"] / "netconfig").rglob("*.cfg")}

    code, out, err = backup(lab, capsys, "--diff")
    assert code == 0, out + err
    row = device_lines(out)["access-sw-01"]
    assert row.split()[1] == "changed" and row.endswith("+1 -1")
    assert "    + description RESERVED ward 3 printer" in out
    assert device_lines(out)["core-sw-01"].split()[1] == "unchanged"
    commits = git(lab, "log", "--format=%H %s").splitlines()
    assert len(commits) == 2 and commits[0].endswith(": access-sw-01")
    shown = git(lab, "show", "HEAD", "--", "sanitized/access-sw-01.cfg")
    assert "-" + " description UNUSED" in shown and "+ description RESERVED ward 3 printer" in shown

    code, out, _ = hisguard(capsys, "netconfig", "history", "--device", "access-sw-01")
    assert code == 0 and len(out.splitlines()) == 2 and "access-sw-01" in out.splitlines()[0]
    code, out, _ = hisguard(capsys, "netconfig", "show", commits[0].split()[0][:10])
    assert code == 0 and "+ description RESERVED ward 3 printer" in out and "configs/" not in out


def test_secrets_are_masked_in_the_sanitized_copy_and_never_in_artifacts(lab, capsys):
    password = lab["creds"]["password"]
    with session(lab, "core-sw-01") as s:
        s.configure(["interface GigabitEthernet1/0/24", f"description patched by contractor pw {password}"])
    try:
        code, out, err = backup(lab, capsys)
        assert code == 0, out + err
        repo = lab["var"] / "netconfig"
        assert password in (repo / "configs" / "core-sw-01.cfg").read_text()  # restorable: kept
        sanitized = (repo / "sanitized" / "core-sw-01.cfg").read_text()
        assert password not in sanitized
        assert " description patched by contractor pw <removed>" in sanitized
        assert password not in git(lab, "show", "HEAD:sanitized/core-sw-01.cfg")
        code, out, err = hisguard(capsys, "report", "--format", "json")
        assert code == 0, out + err
        leaks = [
            str(path)
            for path in (lab["var"] / "runs").rglob("*")
            if path.is_file() and password.encode() in path.read_bytes()
        ]
        reports = [p for p in (lab["var"] / "reports").rglob("*") if p.is_file()]
        leaks += [str(p) for p in reports if password.encode() in p.read_bytes()]
        assert leaks == []
        assert out.strip() and reports
    finally:
        with session(lab, "core-sw-01") as s:
            s.configure(["interface GigabitEthernet1/0/24", "description UNUSED"])


def test_vault_encrypted_backups_and_a_push_from_them(lab, capsys, vault_password):
    password_file = vault_password
    code, out, err = backup(lab, capsys, "--vault-password-file", str(password_file))
    assert code == 0, out + err
    restorable = lab["var"] / "netconfig" / "configs" / "access-sw-01.cfg"
    assert restorable.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    assert stat.S_IMODE(restorable.stat().st_mode) == 0o600
    plain = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-vault")), "decrypt", "--vault-password-file",
         str(password_file), "--output", "-", str(restorable)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    with session(lab, "access-sw-01") as s:
        assert plain == s.running_config()
    commits = len(git(lab, "log", "--format=%H").split())
    code, out, _ = backup(lab, capsys, "--vault-password-file", str(password_file))
    assert code == 0 and "no change: nothing committed" in out  # same plaintext: no new ciphertext
    assert len(git(lab, "log", "--format=%H").split()) == commits

    argv = [
        "failover",
        "switch",
        "--failed",
        "access-sw-01",
        "--spare",
        "spare-sw-01",
        "-q",
        "-i",
        lab["inventory"],
    ]
    code, out, err = hisguard(capsys, *argv, "--vault-password-file", str(password_file))
    assert code == 0, out + err
    assert "(vault-encrypted)" in out and "DRY RUN" in out
    code, out, _ = hisguard(capsys, *argv)
    assert code == 1 and "is vault-encrypted: give vault_password_file" in out
    code, _, err = backup(lab, capsys)  # never silently downgraded to plain text
    assert (
        code == 2 and "are ansible-vault encrypted (access-sw-01.cfg, core-sw-01.cfg, spare-sw-01.cfg)" in err
    )


def test_redundancy_fails_without_a_matching_backup_port_or_a_spare(lab, capsys, vault_password):
    with session(lab, "core-sw-01") as s:
        s.configure(["interface TenGigabitEthernet1/1/2", "switchport trunk allowed vlan 10,20"])
    pid = int(switches.pid_file(lab["state"], "spare-sw-01").read_text())
    subprocess.run(["kill", str(pid)], check=True)  # the spare we started dies
    try:
        code, out, _ = backup(lab, capsys, "--vault-password-file", vault_password)
        assert code == 1
        assert "spare-sw-01" in out and "FAILED" in out and "cannot open a TCP connection" in out
        results = latest_results(lab)
        core = results[("core-sw-01", "P3.9.1.3")]
        assert core["status"] == "fail"
        assert core["observed"]["mismatches"] == [
            "TenGigabitEthernet1/1/1 only: switchport trunk allowed vlan 10,20,30,40,99",
            "TenGigabitEthernet1/1/2 only: switchport trunk allowed vlan 10,20",
        ]
        assert "configure TenGigabitEthernet1/1/2 like" in core["remediation"]
        assert "keep a spare switch powered and reachable" in core["remediation"]
        assert results[("access-sw-01", "P3.9.1.3")]["status"] == "fail"
        assert results[("spare-sw-01", "P3.9.1.3")]["status"] == "error"
        assert results[("spare-sw-01", "P2.4.10")]["status"] == "fail"
        assert results[("core-sw-01", "P2.4.10")]["status"] == "pass"
    finally:
        switches.up(lab["state"])
        with session(lab, "core-sw-01") as s:
            s.configure(["interface TenGigabitEthernet1/1/2", "switchport trunk allowed vlan 10,20,30,40,99"])
