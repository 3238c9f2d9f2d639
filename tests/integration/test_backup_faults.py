"""Backups and restore drills under faults, with the real restic, PostgreSQL and SFTP.

Two containers of the lab image on the backup role's own network (backup-faults-net, 10.77.51.0/24,
--internal): backup-it-client (PostgreSQL with the lab's HIS data, a 1 MiB tmpfs at /srv/drill-tiny)
and backup-it-target (the off-site SFTP server). playbooks/backup.yml enforces the backups through
hisguard.runner; every drill goes through hisguard.drill.run_restore_drill (restore_drill.yml via
ansible-runner). Each fault is made, the drill or the daily job runs, the fault is undone:

    corrupted pack  -> drill fails, "data corrupted"
    wrong password  -> drill fails, "wrong password"
    locked repo     -> drill errors, "repository locked"
    missing repo    -> drill fails, "no repository"
    off-site down   -> drill from the off-site copy errors "unreachable"; the daily job keeps the local
                       snapshot and records the failed copy (P3.9.1.3 fails)
    full disk       -> drill fails "no space left", nothing restored

and after every drill: no scratch directory, no scratch database. The test password must not appear
in var/runs/<id>, in the evidence, or in any process's arguments during a backup.
The containers (and the network, when these tests created it) are removed at the end.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from labtools import corrupt_largest_pack

from hisguard import drill
from hisguard.runner import run_playbook

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/hisguard-lab:latest"
NETWORK = "backup-faults-net"
SUBNET = "10.77.51.0/24"
CLIENT, CLIENT_IP = "backup-it-client", "10.77.51.30"
TARGET, TARGET_IP = "backup-it-target", "10.77.51.31"
PASSWORD = "faults-it-" + secrets.token_hex(8)
REPO = "/var/backups/hisguard/restic"
PASSWORD_FILE = "/etc/hisguard/backup/restic.pass"

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")


def podman(*args: str, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=timeout)


def exec_in(container: str, script: str, check: bool = True) -> subprocess.CompletedProcess:
    return podman("exec", container, "bash", "-c", script, check=check)


def image_present() -> bool:
    return podman("image", "exists", IMAGE, check=False).returncode == 0


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The two containers, enforced by playbooks/backup.yml; yields the inventory, store and var dir."""
    if not image_present():
        pytest.skip(f"{IMAGE} is not built (make setup / hisguard lab up builds it)")
    base = tmp_path_factory.mktemp("backup-faults")
    created_network = podman("network", "exists", NETWORK, check=False).returncode != 0
    if created_network:
        podman("network", "create", "--internal", "--subnet", SUBNET, NETWORK)
    for name, ip, extra in (
        (TARGET, TARGET_IP, []),
        (CLIENT, CLIENT_IP, ["--tmpfs", "/srv/drill-tiny:rw,size=1m"]),
    ):
        podman("rm", "-f", "-t", "0", name, check=False)
        podman(
            "run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, "--ip", ip,
            "--systemd=always", "--label", "hisguard.test=backup-faults", *extra, IMAGE, "/sbin/init",
        )  # fmt: skip
    try:
        for name in (TARGET, CLIENT):
            exec_in(name, "timeout 120 systemctl is-system-running --wait || true")
        exec_in(TARGET, "ssh-keygen -A")
        his_sql = (ROOT / "src/hisguard/lab/provision/his.sql").read_text(encoding="utf-8")
        podman("cp", str(ROOT / "src/hisguard/lab/provision/his.sql"), f"{CLIENT}:/tmp/his.sql")
        assert "CREATE DATABASE his" in his_sql
        exec_in(
            CLIENT,
            "systemctl start postgresql && for i in $(seq 100); do "
            "runuser -u postgres -- pg_isready -q && break; sleep 0.2; done && "
            "runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -f /tmp/his.sql",
        )
        inventory = base / "inventory.yml"
        inventory.write_text(
            yaml.safe_dump(
                {
                    "all": {
                        "vars": {
                            "ansible_connection": "containers.podman.podman",
                            "ansible_python_interpreter": "/usr/bin/python3",
                            "backup_offsite_address": TARGET_IP,
                            "backup_randomized_delay": "10min",
                            "backup_drill_rto_target_minutes": 10,
                        },
                        "children": {
                            "his_db": {"hosts": {CLIENT: {}}},
                            "backup_servers": {"hosts": {TARGET: {}}},
                        },
                    }
                }
            )
        )
        secret = base / "vault.yml"
        secret.write_text(yaml.safe_dump({"backup_password": PASSWORD}))
        secret.chmod(0o600)
        run = run_playbook(str(ROOT / "playbooks/backup.yml"), inventory=inventory, extravar_files=[secret])
        assert run.ok, f"backup.yml failed: see {run.artifacts_dir}/stdout"
        results = json.loads(run.results_file.read_text())
        statuses = {(r["host"], r["control"]): r["status"] for r in results["results"]}
        assert statuses == {(CLIENT, "P2.6.8"): "pass", (CLIENT, "P3.9.1.3"): "pass"}, results
        yield {"inventory": inventory, "db": base / "hisguard.db", "runs": [run.private_dir], "base": base}
    finally:
        podman("rm", "-f", "-t", "0", CLIENT, TARGET, check=False)
        if created_network:
            podman("network", "rm", NETWORK, check=False)


def run_drill(lab: dict, **kwargs) -> dict:
    outcome = drill.run_restore_drill(
        host=CLIENT, inventory=lab["inventory"], db_path=lab["db"], lang="en", **kwargs
    )
    lab["runs"].append(outcome.run.private_dir)
    lab.setdefault("evidence", []).extend(outcome.evidence.values())
    assert len(outcome.record["hosts"]) == 1, outcome.record
    return outcome.record["hosts"][0]


def assert_nothing_left(scratch_root: str = "/var/tmp/hisguard-drill") -> None:
    left = exec_in(CLIENT, f"ls -A {scratch_root} 2>/dev/null || true").stdout.strip()
    assert left == "", f"scratch data left in {scratch_root}: {left}"
    databases = exec_in(CLIENT, "runuser -u postgres -- psql -Atc 'SELECT datname FROM pg_database'").stdout
    assert "hisguard_drill" not in databases


def test_drill_passes_first(lab):
    host = run_drill(lab)
    assert host["status"] == "pass", host["problems"]
    assert host["rpo"]["met"] and host["rto"]["met"]
    assert host["databases"][0]["row_counts"]["registrations"] == 3000
    assert_nothing_left()


def test_corrupted_pack_fails_the_drill(lab):
    exec_in(CLIENT, corrupt_largest_pack(REPO, f"{REPO}.good"))
    try:
        host = run_drill(lab)
    finally:
        exec_in(CLIENT, f"rm -rf {REPO} && mv {REPO}.good {REPO}")
    assert host["status"] == "fail"
    assert host["failure"]["kind"] == "data_corrupted"
    assert "data corrupted" in host["failure"]["message"]
    assert_nothing_left()


def test_wrong_password_fails_the_drill(lab):
    exec_in(CLIENT, f"cp -a {PASSWORD_FILE} /root/pass.good && chmod 600 {PASSWORD_FILE} && "
                    f"echo not-the-password > {PASSWORD_FILE} && chmod 400 {PASSWORD_FILE}")  # fmt: skip
    try:
        host = run_drill(lab)
    finally:
        exec_in(CLIENT, f"cp -a /root/pass.good {PASSWORD_FILE} && rm /root/pass.good")
    assert host["status"] == "fail"
    assert host["failure"]["kind"] == "wrong_password"
    assert "wrong password" in host["failure"]["message"]
    assert_nothing_left()


def test_locked_repository_is_an_error(lab):
    exec_in(
        CLIENT,
        f"RESTIC_PASSWORD_FILE={PASSWORD_FILE} nohup restic --repo {REPO} --limit-download 1 "
        "check --read-data >/dev/null 2>&1 & echo $! > /root/lock-holder.pid; sleep 2",
    )
    try:
        host = run_drill(lab)
    finally:
        exec_in(
            CLIENT,
            f"kill $(cat /root/lock-holder.pid); sleep 0.5; RESTIC_PASSWORD_FILE={PASSWORD_FILE} "
            f"restic --repo {REPO} unlock",
            check=False,
        )
    assert host["status"] == "error"
    assert host["failure"]["kind"] == "locked"
    assert "repository locked" in host["failure"]["message"]
    assert_nothing_left()


def test_missing_repository_fails_the_drill(lab):
    exec_in(CLIENT, f"mv {REPO} {REPO}.away")
    try:
        host = run_drill(lab)
    finally:
        exec_in(CLIENT, f"mv {REPO}.away {REPO}")
    assert host["status"] == "fail"
    assert host["failure"]["kind"] == "repo_missing"
    assert "no repository at" in host["failure"]["message"]
    assert_nothing_left()


def test_unreachable_offsite_host(lab):
    exec_in(TARGET, "systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh")
    try:
        host = run_drill(lab, source="offsite")
        job = exec_in(CLIENT, "systemctl start hisguard-backup.service", check=False)
        status = json.loads(exec_in(CLIENT, "cat /var/lib/hisguard/backup/status.json").stdout)
    finally:
        exec_in(TARGET, "systemctl start ssh")
    assert host["status"] == "fail"
    assert host["failure"]["kind"] == "unreachable"
    assert "backup server unreachable" in host["failure"]["message"]
    assert_nothing_left()
    # The daily job still saves the local snapshot, records the failed copy and exits non-zero.
    assert job.returncode != 0
    assert status["last_run"]["result"] == "partial" and status["last_run"]["error"]["step"] == "offsite"
    assert status["offsite"]["result"] == "failed"
    assert status["offsite"]["last_success"]["source_snapshot_id"] != status["last_success"]["snapshot_id"]
    audit = run_playbook(
        str(ROOT / "playbooks/backup.yml"), inventory=lab["inventory"], extravars={"hisguard_mode": "audit"}
    )
    lab["runs"].append(audit.private_dir)
    results = {r["control"]: r for r in json.loads(audit.results_file.read_text())["results"]}
    assert results["P2.6.8"]["status"] == "pass"
    assert results["P3.9.1.3"]["status"] == "fail"
    assert "lacks the latest good snapshot" in " ".join(results["P3.9.1.3"]["observed"])


def test_full_disk_on_the_drill_target(lab):
    host = run_drill(lab, extravars={"backup_drill_scratch_root": "/srv/drill-tiny"})
    assert host["status"] == "fail"
    assert host["failure"]["kind"] == "no_space"
    assert "no space left on the drill target" in host["failure"]["message"]
    assert_nothing_left("/srv/drill-tiny")


def test_scratch_inside_a_backed_up_path_is_refused(lab):
    host = run_drill(lab, extravars={"backup_drill_scratch_root": "/etc/drill"})
    assert host["status"] == "error"
    assert "overlaps the backed-up path" in host["failure"]["message"]
    assert exec_in(CLIENT, "test -e /etc/drill", check=False).returncode != 0


def test_password_not_in_process_arguments_during_a_backup(lab):
    """Poll every process's argv in the client while the daily job runs."""
    seen, leaks, stop = [], [], threading.Event()
    scan = (
        "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -v '^$' || true"
    )

    def poll() -> None:
        while not stop.is_set():
            out = exec_in(CLIENT, scan, check=False).stdout
            seen.extend(
                line for line in out.splitlines() if line.startswith("restic ") or "restic backup" in line
            )
            leaks.extend(line for line in out.splitlines() if PASSWORD in line)
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        job = exec_in(CLIENT, "systemctl start hisguard-backup.service", check=False)
    finally:
        stop.set()
        poller.join()
    assert job.returncode == 0, job.stderr
    assert any("backup" in line for line in seen), "the scan never saw restic run"
    assert not leaks


def test_the_timer_starts_the_daily_job(lab):
    """A drop-in makes the timer fire at the next full minute (no random delay); the job then runs."""
    status_file = "/var/lib/hisguard/backup/status.json"
    runs_before = len(json.loads(exec_in(CLIENT, f"cat {status_file}").stdout)["history"])
    exec_in(
        CLIENT,
        "mkdir -p /etc/systemd/system/hisguard-backup.timer.d && printf '[Timer]\\nOnCalendar=\\n"
        "OnCalendar=*:*:00\\nRandomizedDelaySec=0\\nAccuracySec=1s\\n' "
        "> /etc/systemd/system/hisguard-backup.timer.d/test.conf && systemctl daemon-reload && "
        "systemctl restart hisguard-backup.timer",
    )
    try:
        deadline = time.monotonic() + 150
        history = []
        while time.monotonic() < deadline:
            history = json.loads(exec_in(CLIENT, f"cat {status_file}").stdout)["history"]
            if len(history) > runs_before and history[-1].get("finished"):
                break
            time.sleep(3)
        trigger = exec_in(CLIENT, "systemctl show hisguard-backup.timer -p LastTriggerUSec").stdout.strip()
    finally:
        exec_in(
            CLIENT,
            "rm -rf /etc/systemd/system/hisguard-backup.timer.d && systemctl daemon-reload && "
            "systemctl restart hisguard-backup.timer",
        )
    assert len(history) > runs_before, "the timer did not start the job within 150 s"
    assert history[-1]["result"] == "success"
    assert trigger != "LastTriggerUSec=n/a"


def test_password_not_in_artifacts_or_evidence(lab):
    """Runs last: every runner directory and evidence file of this module."""
    checked = 0
    for directory in lab["runs"]:
        for path in Path(directory).rglob("*"):
            if path.is_file():
                checked += 1
                assert PASSWORD not in path.read_text(errors="replace"), f"password leaked into {path}"
    for path in lab.get("evidence", []):
        assert PASSWORD not in Path(path).read_text(encoding="utf-8")
    assert checked > 10
