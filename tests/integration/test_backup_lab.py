"""Issue 5 end to end on the lab: `hisguard harden` sets up srv-his's daily backups (the lab's backup
password comes from the 0600 file `lab up` made), the systemd timer takes backups by itself, the
off-site copy lands on srv-backup, the audit passes P2.6.8 and P3.9.1.3, a restore drill of the HIS
database passes with RPO and RTO, and a corrupted pack file fails the drill."""

import json
import os
import time

import pytest
from labtools import corrupt_largest_pack, hisguard
from labtools import lab_shell as on

from hisguard import drill, paths
from hisguard.lab import inventory, lab
from hisguard.store import Store

pytestmark = pytest.mark.lab
REPO = "/var/backups/hisguard/restic"
TIMER_DROPIN = "/etc/systemd/system/hisguard-backup.timer.d/zz-test-every-10s.conf"


def backup_state() -> tuple[dict, set[str]]:
    """The job's status file and the local repository's snapshot ids."""
    status = json.loads(on("srv-his", "cat /var/lib/hisguard/backup/status.json").stdout)
    return status, set(on("srv-his", f"ls {REPO}/snapshots").stdout.split())


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = {**os.environ, "HISGUARD_DB": str(tmp_path_factory.mktemp("store") / "hisguard.db")}
    proc = hisguard(env, "harden", "--limit", "backup_servers:his_db", "--tags", "P2.6.8,P3.9.1.3")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    return env


def test_the_timer_takes_daily_backups_with_an_offsite_copy(env):
    timer = on("srv-his", "systemctl show -p TimersCalendar -p Persistent hisguard-backup.timer").stdout
    assert "OnCalendar=*-*-* 01:30:00" in timer and "Persistent=yes" in timer
    _status, before = backup_state()
    # Let the timer itself (not a manual start) fire: every 10 s for the test, then daily again.
    on("srv-his", f"mkdir -p {os.path.dirname(TIMER_DROPIN)} && printf '[Timer]\\nOnCalendar=*:*:0/10\\n"
                  f"RandomizedDelaySec=0\\n' > {TIMER_DROPIN} && systemctl daemon-reload && "
                  "systemctl restart hisguard-backup.timer")  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            status, after = backup_state()
            if after - before and status["last_run"].get("result") == "success":
                break
            time.sleep(3)
        assert after - before, "the timer made no new snapshot in 3 minutes"
    finally:
        on(
            "srv-his",
            f"rm -f {TIMER_DROPIN} && systemctl daemon-reload && systemctl restart hisguard-backup.timer",
        )
    # A run the timer started just before the drop-in went away may still be going: let it finish.
    # (a oneshot service is "activating" while it runs, which `is-active` does not count as active)
    on("srv-his", "while systemctl show -p ActiveState --value hisguard-backup.service | "
                  "grep -qE '^(activating|active|deactivating)$'; do sleep 1; done")  # fmt: skip
    status, after = backup_state()
    assert status["last_run"]["result"] == "success", status["last_run"]
    assert status["last_success"]["snapshot_id"] in after
    offsite = status["offsite"]
    assert (
        offsite["result"] == "success"
        and offsite["source_snapshot_id"] == status["last_success"]["snapshot_id"]
    )
    copies = on("srv-backup", "ls /srv/restic/repos/srv-his/snapshots").stdout.split()
    assert offsite["last_success"]["snapshot_id"] in copies, "the newest snapshot has no off-site copy"

    audit = hisguard(env, "audit", "--limit", "srv-his", "--tags", "P2.6.8,P3.9.1.3")
    assert audit.returncode == 0, audit.stdout[-2000:] + audit.stderr
    report = json.loads(hisguard(env, "report", "--format", "json", "--output", "-").stdout)
    results = {
        c["control"]: c["status"] for h in report["hosts"] if h["host"] == "srv-his" for c in h["controls"]
    }
    assert results == {"P2.6.8": "pass", "P3.9.1.3": "pass"}


def test_the_password_stays_in_its_file(env):
    password_file = inventory.backup_password_file(lab.state_dir())
    secret = password_file.read_text().strip()
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert secret not in (paths.lab_inventory() / "group_vars" / "all.yml").read_text()
    for run in sorted((paths.var_dir() / "runs").glob("*"))[-3:]:
        for path in run.rglob("*"):
            if path.is_file() and path.stat().st_size < 50_000_000:
                assert secret not in path.read_text(errors="replace"), (
                    f"the backup password leaked into {path}"
                )


def test_a_drill_passes_and_a_corrupted_pack_fails_it(env, tmp_path):
    outcome = drill.run_restore_drill(host="srv-his", db_path=tmp_path / "drills.db", lang="zh")
    host = outcome.record["hosts"][0]
    assert outcome.status == "pass", host.get("problems")
    assert host["rpo"]["met"] and host["rto"]["met"] and host["rto"]["seconds"] > 0
    counts = host["databases"][0]["row_counts"]
    assert counts["patients"] >= 2000 and counts["registrations"] >= 3000
    assert outcome.evidence["html"].exists()
    with Store(tmp_path / "drills.db") as store:
        assert [d["ident"] for d in store.drills()] == [outcome.record["ident"]]

    on("srv-his", corrupt_largest_pack(REPO, "/var/tmp/repo.good"))
    try:
        corrupted = drill.run_restore_drill(host="srv-his", db_path=tmp_path / "drills.db", lang="en")
    finally:
        on("srv-his", f"rm -rf {REPO} && mv /var/tmp/repo.good {REPO}")
    failed = corrupted.record["hosts"][0]
    assert corrupted.status == "fail" and failed["failure"]["kind"] == "data_corrupted", failed
    # Nothing left behind on srv-his.
    assert on("srv-his", "ls -A /var/tmp/hisguard-drill").stdout.strip() == ""
    databases = on("srv-his", "runuser -u postgres -- psql -Atc 'SELECT datname FROM pg_database'").stdout
    assert "hisguard_drill" not in databases
