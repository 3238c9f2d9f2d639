"""roles/backup/files/hisguard-backup (the daily job) with the real restic on the controller, no containers:
a good run, a failed pre-hook that must not leave a snapshot, the host lock, manifest verification and
the restore plan."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed")


def load_job():
    """The job imports `hisguard_restic` (module_utils/restic.py, installed beside it by the role)."""
    spec = importlib.util.spec_from_file_location("hisguard_restic", ROOT / "plugins/module_utils/restic.py")
    library = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(library)
    sys.modules["hisguard_restic"] = library
    loader = importlib.machinery.SourceFileLoader(
        "hisguard_backup_job", str(ROOT / "roles/backup/files/hisguard-backup")
    )
    job_spec = importlib.util.spec_from_loader("hisguard_backup_job", loader)
    job = importlib.util.module_from_spec(job_spec)
    loader.exec_module(job)
    return job, library


job, hr = load_job()


@pytest.fixture
def config(tmp_path) -> dict:
    data = tmp_path / "etc"
    data.mkdir()
    (data / "hosts").write_text("127.0.0.1 localhost\n")
    (data / "app.conf").write_text("x = 1\n")
    staging = tmp_path / "staging"
    staging.mkdir()
    password = tmp_path / "restic.pass"
    password.write_text("job-test-password\n")
    password.chmod(0o400)
    config = {
        "host": "srv-test",
        "password_file": str(password),
        "repository": str(tmp_path / "repo"),
        "cache_dir": str(tmp_path / "cache"),
        "offsite": None,
        "paths": [str(data), str(staging)],
        "exclude": [],
        "tags": ["hisguard"],
        "manifest": str(staging / "manifest.json"),
        "pg_dumps": [],
        "retention": {"daily": 7},
        "prune": True,
        "status_file": str(tmp_path / "state" / "status.json"),
        "lock_file": str(tmp_path / "run" / "hisguard-backup.lock"),
        "lock_timeout": 1,
    }
    job.client(config).init()
    return config


def status(config: dict) -> dict:
    return json.loads(Path(config["status_file"]).read_text())


def test_good_run_records_the_snapshot(config):
    assert job.run_job(config) == 0
    state = status(config)
    last = state["last_success"]
    assert state["last_run"]["result"] == "success"
    assert len(last["snapshot_id"]) == 64 and last["manifest"]["files"] == 2
    assert state["retention"]["result"] == "success"
    assert "offsite" not in state
    assert oct(os.stat(config["status_file"]).st_mode & 0o777) == "0o640"
    snapshots = job.client(config).snapshots()
    assert [s["id"] for s in snapshots] == [last["snapshot_id"]]


def test_failed_dump_takes_no_snapshot(config):
    assert job.run_job(config) == 0
    good = status(config)["last_success"]
    config["pg_dumps"] = [
        {"database": "nope", "user": "no-such-user-hisguard", "file": config["manifest"] + ".d"}
    ]
    assert job.run_job(config) == 1
    state = status(config)
    assert state["last_run"]["result"] == "failed"
    assert state["last_run"]["error"]["step"] == "pg_dump"
    assert "no backup was taken" in state["last_run"]["error"]["message"]
    assert state["last_success"] == good  # the last good backup is unchanged
    assert len(job.client(config).snapshots()) == 1
    assert (
        not Path(config["manifest"] + ".d").exists() and not Path(config["manifest"] + ".d.partial").exists()
    )
    assert [h["result"] for h in state["history"]] == ["success", "failed"]


def test_a_held_host_lock_fails_the_run(config):
    with hr.host_lock(config["lock_file"], purpose="prune"):
        assert job.run_job(config) == 1
    state = status(config)
    assert state["last_run"]["error"]["kind"] == "host_locked"
    assert "prune" in state["last_run"]["error"]["message"]
    assert "last_success" not in state


def test_unreachable_offsite_keeps_the_local_snapshot(config):
    config["offsite"] = {
        "repository": "sftp:restic@127.0.0.1:/srv/restic/repos/srv-test",
        "sftp_command": "ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=3 -p 1 restic@127.0.0.1 -s sftp",
    }
    assert job.run_job(config) == 1
    state = status(config)
    assert state["last_run"]["result"] == "partial"
    assert state["last_success"]["snapshot_id"]
    assert state["offsite"]["result"] == "failed"
    assert state["offsite"]["error"]["kind"] == "unreachable"


def test_manifest_verification_and_restore_plan(config, tmp_path):
    assert job.run_job(config) == 0
    target = tmp_path / "restored"
    job.client(config).restore("latest", str(target))
    result = job.verify_manifest(str(target), config["manifest"])
    assert result["ok"] and result["matched"] == 2
    restored_conf = target / config["paths"][0].lstrip("/") / "app.conf"
    stat = restored_conf.stat()
    restored_conf.write_text("x = 2\n")  # same size and mtime: only the checksum tells
    os.utime(restored_conf, (stat.st_atime, stat.st_mtime))
    damaged = job.verify_manifest(str(target), config["manifest"])
    assert not damaged["ok"] and damaged["mismatched_count"] == 1
    restored_conf.write_text("x = 22\n")  # the restore plan compares size and mtime, like rsync
    _, nodes = job.client(config).ls("latest")
    plan = job.plan_restore(str(target), nodes)
    assert plan["files"] == 3 and plan["unchanged"] == 2 and plan["overwrite"] == 1
    fresh = job.plan_restore(str(tmp_path / "empty"), nodes)
    assert fresh["new"] == 3 and fresh["overwrite"] == 0


def test_scratch_database_names_are_checked():
    with pytest.raises(job.JobError) as err:
        job.drill_db("/x.dump", "his", [], None)
    assert "hisguard_drill_" in err.value.message
    with pytest.raises(job.JobError):
        job.drill_db_drop("his")
    with pytest.raises(job.JobError):
        job.restore_db("/x.dump", "his; DROP DATABASE his")
