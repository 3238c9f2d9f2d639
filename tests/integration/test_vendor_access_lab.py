"""P1.2.5 on the shared lab (srv-his): a grant opens a recorded vendor account; `revoke` ends a live
session; a 1-minute grant disappears at its expiry while the controller does nothing (the host's timer);
the audit passes, and fails for a vendor account made by hand. Everything made here is removed again."""

import json
import math
import subprocess
import time
from datetime import datetime

import pytest

from hisguard import vendor_access
from hisguard.cli import main
from hisguard.lab import lab, podman
from hisguard.lab.topology import INTRANET, host
from hisguard.runner import run_playbook

pytestmark = pytest.mark.lab
HOST = "srv-his"
ADDRESS = host(HOST).intranet_ip
CONTAINER = host(HOST).container
ROGUE = "v-rogue-0badc0de"
SESSIONS = "/var/log/hisguard/vendor-sessions"
GRANT_SECONDS: list[float] = []  # how long a grant run took here
# At the end: close any grant left by a failed test, then remove what the grants installed on the shared host.
REVOKE_ALL = (
    "for f in /etc/hisguard/vendor-access/*.json; do [ -e $f ] &&"
    " /usr/local/sbin/hisguard-vendor-revoke --reason test-cleanup $(basename $f .json); done"
)
UNINSTALL = " ".join(
    [
        "systemctl disable --now hisguard-vendor-sweep.timer;",
        "rm -rf /etc/systemd/system/hisguard-vendor-* /etc/sudoers.d/hisguard-vendor",
        "/etc/ssh/sshd_config.d/50-hisguard-vendor.conf /etc/ssh/hisguard-vendor-keys",
        "/etc/hisguard/vendor-access /etc/hisguard/vendor-access.nft /var/log/hisguard/vendor-sessions",
        "/usr/local/sbin/hisguard-vendor-*;",
        "nft delete table inet hisguard_vendor_access; groupdel hisguard-vendor;",
        "rmdir /etc/hisguard /var/log/hisguard 2>/dev/null;",
        "systemctl daemon-reload; systemctl reload ssh; true",
    ]
)


def on_host(script: str, check: bool = True) -> subprocess.CompletedProcess:
    done = podman.run("exec", CONTAINER, "sh", "-c", script, check=False)
    assert done.returncode == 0 or not check, done.stderr
    return done


def ssh(account: str, key: str, command: str, **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    argv = [
        "ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
        f"{account}@{ADDRESS}", command,
    ]  # fmt: skip
    if kwargs.pop("background", False):
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def grant(duration: str, *extra: str, check: bool = True) -> dict:
    before = {row["id"] for row in vendor_access.list_grants()}
    started = time.monotonic()
    base = ["vendor-access", "grant", "--host", HOST, "--vendor", "Acme Test", "--ticket", "IT-P125"]
    code = main([*base, "--approver", "lab-lead", "--duration", duration, "-q", *extra])
    assert code == 0 or not check
    GRANT_SECONDS.append(time.monotonic() - started)
    (row,) = [row for row in vendor_access.list_grants() if row["id"] not in before]
    return row


def expiring_grant() -> dict:
    """1m on a quiet machine. A grant whose expiry passes during its own setup fails (a loaded machine):
    then again, longer; the host closes the failed one itself."""
    minutes = max(1, math.ceil((max(GRANT_SECONDS, default=30.0) * 1.5 + 15) / 60))
    for _ in range(3):
        row = grant(f"{minutes}m", "--from-ip", INTRANET.gateway, check=False)
        left = datetime.fromisoformat(row["expires"]).timestamp() - time.time()
        if row["outcome"] == "granted" and left > 20:  # time enough to log in before the expiry
            return row
        minutes *= 2
    pytest.fail("the grant outlived its setup in none of 3 attempts: the machine is too slow")


def audit() -> dict:
    run = run_playbook("vendor_access.yml", extravars={"vendor_access_hosts": HOST}, limit=HOST)
    assert run.ok, run.status
    results = json.loads(run.results_file.read_text(encoding="utf-8"))["results"]
    (found,) = [r for r in results if r["host"] == HOST and r["control"] == "P1.2.5"]
    return found


@pytest.fixture(scope="module", autouse=True)
def store(tmp_path_factory):
    lab.up(log=lambda _msg: None)  # a no-op on a running lab
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HISGUARD_DB", str(tmp_path_factory.mktemp("vendor") / "hisguard.db"))
        yield
    on_host(f"userdel -r {ROGUE} 2>/dev/null; {REVOKE_ALL}; {UNINSTALL}")


def test_bad_input_is_refused(capsys):
    base = ["vendor-access", "grant", "--vendor", "acme", "--ticket", "T", "--approver", "A"]
    assert main([*base, "--host", HOST, "--duration", "abc"]) == 2
    assert "duration must be a positive number of minutes, hours or days" in capsys.readouterr().err
    assert main([*base, "--host", "srv-nowhere", "--duration", "1h"]) == 2
    assert "host 'srv-nowhere' is not in the inventory" in capsys.readouterr().err


def test_revoke_ends_a_live_session():
    row = grant("10m")
    session = ssh(row["account"], row["key_file"], "echo started; sleep 120", background=True)
    assert session.stdout.readline().strip() == "started"
    assert main(["vendor-access", "revoke", row["id"], "--reason", "work finished", "-q"]) == 0
    session.wait(timeout=20)
    assert on_host(f"id {row['account']}", check=False).returncode != 0
    assert [r["status"] for r in vendor_access.list_grants() if r["id"] == row["id"]] == ["revoked"]


def test_grant_expires_on_the_host_with_the_controller_stopped():
    row = expiring_grant()
    account, marker = row["account"], f"marker-{row['id']}"
    done = ssh(account, row["key_file"], f"echo {marker}; id -un")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [marker, account]
    journal = on_host("journalctl -t hisguard-vendor --no-pager -o cat").stdout
    assert f"session start: grant={row['id']} user={account}" in journal
    recorded = on_host(f"stat -c '%a %U' {SESSIONS} && cat {SESSIONS}/{account}-*.typescript")
    assert recorded.stdout.startswith("700 root") and marker in recorded.stdout
    assert (
        f"{INTRANET.gateway} timeout" in on_host("nft list set inet hisguard_vendor_access openings").stdout
    )

    # The controller is stopped from here on: no ansible, no hisguard; only looking at the host.
    wait = datetime.fromisoformat(row["expires"]).timestamp() - time.time() + 6
    time.sleep(max(wait, 0))
    assert on_host(f"id {account}", check=False).returncode != 0
    assert on_host(f"ls /etc/ssh/hisguard-vendor-keys/{account}", check=False).returncode != 0
    assert (
        on_host(f"ls /etc/systemd/system/hisguard-vendor-revoke-{row['id']}.timer", check=False).returncode
        != 0
    )
    assert INTRANET.gateway not in on_host("nft list set inet hisguard_vendor_access openings").stdout
    journal = on_host("journalctl -t hisguard-vendor --no-pager -o cat").stdout
    assert f"revoked grant={row['id']}: account {account} and its key removed" in journal
    kept = json.loads(on_host(f"cat /etc/hisguard/vendor-access/revoked/{row['id']}.json").stdout)
    assert (kept["revoke_reason"], kept["revoked_by"], kept["ticket"]) == ("expired", "timer", "IT-P125")
    assert ssh(account, row["key_file"], "true").returncode != 0
    assert [r["status"] for r in vendor_access.list_grants() if r["id"] == row["id"]] == ["expired"]


def test_audit_passes_and_catches_a_vendor_account_made_by_hand():
    assert audit()["status"] == "pass"
    on_host(f"useradd -M {ROGUE}")
    try:
        found = audit()
    finally:
        on_host(f"userdel {ROGUE}")
    assert found["status"] == "fail"
    assert f"vendor account {ROGUE} exists without an active grant" in found["observed"]
