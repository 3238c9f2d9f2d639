"""P2.6.8, P3.9.1.3, P3.8.5: the enforced client and target, the audit-only client, every results file."""

import json
import shlex

import pytest
from conftest import (
    HIS,
    PASSWORD,
    PASSWORD_FILE,
    PLAIN,
    REPOSITORY,
    STATUS_FILE,
    TARGET,
    ephemeral,
    load_results,
    only_result,
    restic_json,
)

# ------------------------------------------------------------------ the enforced client


def test_password_file_is_root_only(his):
    password = his.file(PASSWORD_FILE)
    assert password.user == "root" and password.mode == 0o400
    assert his.file("/etc/hisguard/backup").mode == 0o700
    assert his.file("/etc/hisguard/backup/config.json").mode == 0o600


def test_timer_is_daily_randomized_persistent(his):
    timer = his.file("/etc/systemd/system/hisguard-backup.timer").content_string
    assert "OnCalendar=*-*-* 01:30:00" in timer
    assert "RandomizedDelaySec=10min" in timer and "Persistent=true" in timer
    show = his.check_output(
        "systemctl show hisguard-backup.timer -p ActiveState -p UnitFileState -p Persistent"
    ).splitlines()
    assert set(show) == {"ActiveState=active", "UnitFileState=enabled", "Persistent=yes"}
    assert his.service("hisguard-backup.timer").is_enabled


def test_local_repository_holds_the_snapshots_with_the_dump(his):
    snapshots = restic_json(his, "--repo", REPOSITORY, "snapshots")
    assert snapshots and all(s["hostname"] == HIS for s in snapshots)
    listing = his.check_output(
        f"RESTIC_PASSWORD_FILE={PASSWORD_FILE} restic --no-lock --repo {REPOSITORY} ls latest"
    )
    assert "/var/backups/hisguard/staging/postgresql/his.dump" in listing
    assert "/var/backups/hisguard/staging/manifest.json" in listing


def test_status_file_records_the_last_good_backup(his):
    status = json.loads(his.file(STATUS_FILE).content_string)
    last = status["last_success"]
    assert len(last["snapshot_id"]) == 64
    assert last["dumps"][0]["database"] == "his" and last["dumps"][0]["size"] > 10000
    assert last["manifest"]["files"] > 100
    assert status["offsite"]["last_success"]["source_snapshot_id"] == last["snapshot_id"]


def test_offsite_copy_on_the_target(his, target):
    """The target holds the client's repository; the copy's `original` is the local snapshot."""
    assert target.file("/srv/restic/repos/backup-his/config").exists
    assert target.file("/srv/restic/repos").user == "restic"
    status = json.loads(his.file(STATUS_FILE).content_string)
    offsite = json.loads(his.file("/etc/hisguard/backup/config.json").content_string)["offsite"]
    command = (
        f"RESTIC_PASSWORD_FILE={PASSWORD_FILE} restic --no-lock --json "
        f"--repo {shlex.quote(offsite['repository'])} "
        f"-o sftp.command={shlex.quote(offsite['sftp_command'])} snapshots"
    )
    copies = json.loads(his.check_output(command))
    assert status["last_success"]["snapshot_id"] in {c.get("original") for c in copies}


def test_client_key_is_limited_to_sftp(his, target):
    keys = target.file("/srv/restic/.ssh/authorized_keys").content_string
    line = next(k for k in keys.splitlines() if k.endswith(f"hisguard-backup@{HIS}"))
    assert line.startswith('restrict,command="internal-sftp" ssh-ed25519 ')
    assert his.file("/etc/hisguard/backup/id_ed25519").mode == 0o600
    # The key opens no shell on the target.
    result = his.run(
        "ssh -F /dev/null -i /etc/hisguard/backup/id_ed25519 -o BatchMode=yes "
        "-o UserKnownHostsFile=/etc/hisguard/backup/known_hosts restic@10.77.50.11 id"
    )
    assert "uid=" not in result.stdout


def test_target_reports_nothing(target):
    assert not target.file("/etc/hisguard/backup/config.json").exists


# ------------------------------------------------------------------ the password never leaks


def test_password_not_in_argv_of_the_units_or_the_config(his):
    for path in (
        "/etc/systemd/system/hisguard-backup.service",
        "/etc/hisguard/backup/config.json",
        STATUS_FILE,
    ):
        assert PASSWORD not in his.file(path).content_string


@pytest.mark.parametrize(
    "name", ["results-audit.json", "results-idempotence.json", "results-drill.json", "results-stale.json"]
)
def test_password_not_in_results(name):
    assert PASSWORD not in (ephemeral() / name).read_text(encoding="utf-8")


# ------------------------------------------------------------------ the audit-only client


def test_audit_host_untouched(plain):
    assert not plain.file("/etc/hisguard").exists
    assert not plain.file("/var/backups/hisguard").exists
    assert not plain.file("/etc/systemd/system/hisguard-backup.timer").exists


@pytest.mark.parametrize("host_name", [HIS, PLAIN])
def test_prepare_audit_changed_nothing(host_name):
    assert (ephemeral() / f"etc-{host_name}-before-audit.txt").stat().st_size > 1000


# ------------------------------------------------------------------ results (compliance callback)


@pytest.mark.parametrize("host_name", [HIS, PLAIN])
@pytest.mark.parametrize("control", ["P2.6.8", "P3.9.1.3"])
def test_results_before_enforce_fail(host_name, control):
    document = load_results("results-audit.json")
    result = only_result(document, host_name, control)
    assert result["status"] == "fail"
    assert result["remediation"]
    assert document["run"]["stats"][host_name]["changed"] == 0


def test_results_after_enforce_pass():
    document = load_results("results-idempotence.json")
    daily = only_result(document, HIS, "P2.6.8")
    assert daily["status"] == "pass", daily["observed"]
    assert any("last good backup" in line for line in daily["observed"])
    offsite = only_result(document, HIS, "P3.9.1.3")
    assert offsite["status"] == "pass", offsite["observed"]
    assert not [r for r in document["results"] if r["host"] == TARGET]


def test_results_audit_host_still_fails():
    document = load_results("results-idempotence.json")
    assert only_result(document, PLAIN, "P2.6.8")["status"] == "fail"
    assert only_result(document, PLAIN, "P3.9.1.3")["status"] == "fail"


def test_idempotence_run_changed_nothing():
    """results-idempotence.json: the idempotence run's results, kept by side_effect.yml."""
    document = load_results("results-idempotence.json")
    for host_name in (HIS, PLAIN, TARGET):
        assert document["run"]["stats"][host_name]["changed"] == 0


def test_stale_backup_fails_p2_6_8():
    result = only_result(load_results("results-stale.json"), HIS, "P2.6.8")
    assert result["status"] == "fail"
    assert any("h old" in line and "older than 26 h" in line for line in result["observed"])


# ------------------------------------------------------------------ a failed dump is never a good backup


def test_failed_dump_took_no_snapshot():
    evidence = json.loads((ephemeral() / "failed-dump.json").read_text())
    assert "Unable to start service" in evidence["job_message"]
    assert evidence["snapshots_after"] == evidence["snapshots_before"]
    status = evidence["status"]
    assert status["last_run"]["result"] == "failed"
    assert status["last_run"]["error"]["step"] == "pg_dump"
    assert "pg_dump of database his failed" in status["last_run"]["error"]["message"]


# ------------------------------------------------------------------ restore drill


def test_drill_passes_with_rpo_and_rto():
    result = only_result(load_results("results-drill.json"), HIS, "P3.8.5")
    assert result["status"] == "pass", result["observed"]
    record = result["evidence"]["drill"]
    assert record["rpo"]["met"] and record["rpo"]["seconds"] > 0
    assert record["rto"]["met"] and 0 < record["rto"]["seconds"] < 300
    assert record["manifest"]["ok"] and record["manifest"]["matched"] == record["manifest"]["files"]
    database = record["databases"][0]
    assert database["row_counts"] == {
        "patients": 2000,
        "registrations": 3000,
        "prescriptions": 4000,
        "charges": 4000,
        "price_catalogue": 200,
    }
    assert database["latest"]["value"]
    assert record["check"]["subset"].endswith("/10")


def test_drill_on_a_host_without_backups_is_an_error():
    result = only_result(load_results("results-drill.json"), PLAIN, "P3.8.5")
    assert result["status"] == "error"
    assert "backups are not set up" in result["observed"][0]


def test_drill_left_nothing_behind(his):
    assert his.check_output("ls -A /var/tmp/hisguard-drill") == ""
    databases = his.check_output("runuser -u postgres -- psql -Atc 'SELECT datname FROM pg_database'")
    assert "hisguard_drill" not in databases
