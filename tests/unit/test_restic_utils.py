"""plugins/module_utils/restic.py against outputs recorded from the real restic 0.14 binary.

The fixtures in tests/unit/fixtures/restic/ come from record.py beside them (argv, rc, stdout, stderr).
"""

import importlib.util
import json
import os
import stat
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "restic"
_spec = importlib.util.spec_from_file_location(
    "hisguard_restic", ROOT / "plugins" / "module_utils" / "restic.py"
)
rs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rs)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class Recorded:
    """A runner that answers each call with the next recorded fixture and keeps the calls."""

    def __init__(self, *names: str):
        self.queue = [fixture(name) for name in names]
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, argv, env):
        self.calls.append((argv, env))
        record = self.queue.pop(0)
        return record["rc"], record["stdout"], record["stderr"]


def restic(
    runner, repository="/var/backups/hisguard/restic", password_file="/etc/hisguard/backup/restic.pass"
):
    return rs.Restic(runner, repository, password_file)


# ------------------------------------------------------------------ the recordings are real


def test_fixtures_come_from_restic_0_14():
    recorded = [path for path in FIXTURES.glob("*.json") if not path.name.startswith("drill_")]
    assert len(recorded) >= 30
    versions = {fixture(path.stem)["restic_version"] for path in recorded}
    assert versions and all(v.startswith("restic 0.14") for v in versions)


# ------------------------------------------------------------------ classification of failures


@pytest.mark.parametrize(
    ("name", "kind", "words"),
    [
        ("snapshots_wrong_password", "wrong_password", "wrong password"),
        ("copy_wrong_source_password", "wrong_password", "wrong password"),
        ("snapshots_missing_repo", "repo_missing", "no repository at"),
        ("snapshots_sftp_missing_repo", "repo_missing", "no repository at"),
        ("snapshots_no_password_file", "password_file", "password file unusable"),
        ("snapshots_empty_password", "password_file", "password file unusable"),
        ("backup_locked", "locked", "repository locked"),
        ("check_locked", "locked", "repository locked"),
        ("restore_locked", "locked", "repository locked"),
        ("check_corrupted", "data_corrupted", "data corrupted"),
        ("restore_corrupted", "data_corrupted", "data corrupted"),
        ("restore_no_space", "no_space", "no space left"),
        ("snapshots_sftp_unreachable", "unreachable", "backup server unreachable"),
        ("snapshots_sftp_auth_refused", "ssh_auth", "refused the SSH key"),
        ("snapshots_sftp_host_key", "host_key", "host key of the backup server rejected"),
        ("restore_snapshot_not_found", "snapshot_not_found", "snapshot not found"),
        ("dump_missing_path", "path_not_found", "path not found"),
        ("backup_missing_path", "path_not_found", "path not found"),
        ("init_exists", "repo_exists", "already exists"),
        ("check_subset_invalid", "usage", "invalid restic arguments"),
    ],
)
def test_failures_are_told_apart_by_stderr(name, kind, words):
    record = fixture(name)
    assert record["rc"] != 0
    error = rs.classify(record["rc"], record["stderr"], record["argv"][3], "/var/backups/hisguard/restic")
    assert error.kind == kind
    assert words in error.message


def test_restic_0_14_gives_rc_1_for_lock_password_and_missing_repo():
    """The reason classify() reads stderr: no exit codes 10-12 before restic 0.17."""
    assert {
        fixture(n)["rc"] for n in ("backup_locked", "snapshots_wrong_password", "snapshots_missing_repo")
    } == {1}


def test_incomplete_backup_is_rc_3():
    assert rs.error_kind(3, "Warning: at least one source file could not be read\n") == "incomplete"


def test_not_installed():
    assert rs.error_kind(127, "restic: not found") == "not_installed"


def test_stderr_summary_collapses_repeated_lines():
    stderr = "ignoring error for /x: no space left on device\n" * 91 + "Fatal: There were 91 errors\n"
    summary = rs.stderr_summary(stderr)
    assert summary.count("no space left") == 1
    assert "Fatal: There were 91 errors" in summary
    assert "90 more lines" in summary


def test_message_hides_credentials_in_repository_urls():
    message = rs.error_message("unreachable", "snapshots", "rest:https://user:secret@backup:8000/srv-his")
    assert "secret" not in message and "***@" in message


def test_wrong_password_message_names_the_password_file_not_the_password():
    record = fixture("snapshots_wrong_password")
    error = rs.classify(record["rc"], record["stderr"], "snapshots", "/r", password_file="/etc/p.pass")
    assert "/etc/p.pass" in error.message


# ------------------------------------------------------------------ parsing successful output


def test_backup_summary():
    summary = rs.backup_summary(fixture("backup_ok")["stdout"])
    assert summary["message_type"] == "summary"
    assert len(summary["snapshot_id"]) == 8  # restic 0.14 prints the short id here
    assert summary["total_bytes_processed"] > 3_000_000


def test_parse_snapshots_adds_epoch_and_age():
    snapshots = rs.parse_snapshots(fixture("snapshots_ok")["stdout"], now=2_000_000_000)
    assert len(snapshots) == 2
    assert snapshots[0]["epoch"] <= snapshots[1]["epoch"]
    assert all(s["age_seconds"] > 0 for s in snapshots)
    latest = rs.latest_snapshot(snapshots, host="srv-his")
    assert latest["hostname"] == "srv-his" and len(latest["id"]) == 64
    assert rs.find_snapshot(snapshots, latest["short_id"]) is latest
    assert rs.find_snapshot(snapshots, "ffffffff") is None


def test_parse_time_keeps_microseconds_of_nanosecond_times():
    moment = rs.parse_time("2026-11-27T12:01:45.483588117Z")
    assert moment.microsecond == 483588 and moment.utcoffset().total_seconds() == 0
    assert rs.parse_time("2026-11-27T20:01:45.5+08:00").hour == 20
    assert rs.parse_time("yesterday") is None


def test_copy_output_and_original_ids():
    copied = rs.parse_copy(fixture("copy_ok")["stdout"])
    assert len(copied["copied"]) == 2 and not copied["skipped"]
    assert all(item["source"] and item["copy"] for item in copied["copied"])
    again = rs.parse_copy(fixture("copy_again")["stdout"])
    assert not again["copied"] and len(again["skipped"]) == 2
    destination = rs.parse_snapshots(fixture("snapshots_copy")["stdout"])
    for item in copied["copied"]:
        assert rs.copied_from(destination, item["source"])["short_id"] == item["copy"]
    assert rs.copied_from(destination, "00000000") is None


def test_forget_json():
    forget = rs.parse_forget(fixture("forget_ok")["stdout"])
    assert forget["keep"] and all(len(i) == 64 for i in forget["keep"])


def test_check_output():
    assert rs.parse_check(fixture("check_ok")["stdout"])["no_errors"]
    subset = rs.parse_check(fixture("check_subset_ok")["stdout"])
    assert subset["read_data"] and subset["group"] == 1 and subset["groups"] == 5
    corrupted = fixture("check_corrupted")
    assert not rs.parse_check(corrupted["stdout"], corrupted["stderr"])["no_errors"]


def test_ls_and_restore_output():
    snapshot, nodes = rs.parse_ls(fixture("ls_ok")["stdout"])
    assert snapshot["hostname"] == "srv-his"
    assert any(node["name"] == "hosts" and node["type"] == "file" for node in nodes)
    restored = rs.parse_restore(fixture("restore_ok")["stdout"])
    assert restored["verified"] and restored["verified_files"] >= 2


# ------------------------------------------------------------------ the Restic class on a recorded runner


def test_password_is_passed_as_a_file_in_the_environment_never_in_argv():
    runner = Recorded("snapshots_ok")
    restic(runner).snapshots(host="srv-his")
    argv, env = runner.calls[0]
    assert env["RESTIC_PASSWORD_FILE"] == "/etc/hisguard/backup/restic.pass"
    assert env["RESTIC_PASSWORD"] == "" and env["RESTIC_PASSWORD_COMMAND"] == ""
    assert argv[:4] == ["restic", "snapshots", "--repo", "/var/backups/hisguard/restic"]
    assert "--no-lock" in argv and "--json" in argv and argv[-2:] == ["--host", "srv-his"]


def test_init_skips_an_existing_repository():
    runner = Recorded("snapshots_ok")
    assert restic(runner).init() is False
    assert len(runner.calls) == 1


def test_init_creates_a_missing_repository():
    runner = Recorded("snapshots_missing_repo", "init_ok")
    assert restic(runner).init() is True
    assert runner.calls[1][0][1] == "init"


def test_init_copies_chunker_parameters_for_the_off_site_copy():
    runner = Recorded("snapshots_sftp_missing_repo", "init_sftp_ok")
    remote = rs.Restic(
        runner, "sftp:restic@backup:/srv/restic/repos/srv-his", "/p", options={"sftp.command": "ssh x"}
    )
    assert (
        remote.init(copy_chunker_params_from="/var/backups/hisguard/restic", from_password_file="/p") is True
    )
    argv, env = runner.calls[1]
    assert argv[-3:] == ["--from-repo", "/var/backups/hisguard/restic", "--copy-chunker-params"]
    assert argv[4:6] == ["--option", "sftp.command=ssh x"]
    assert env["RESTIC_FROM_PASSWORD_FILE"] == "/p"


def test_backup_returns_the_summary_and_rejects_a_run_without_one():
    runner = Recorded("backup_ok", "backup_missing_path")
    summary = restic(runner).backup(
        ["/etc", "/var/backups/hisguard/staging"], tags=["hisguard"], host="srv-his"
    )
    assert summary["snapshot_id"]
    argv = runner.calls[0][0]
    assert argv[argv.index("--") + 1 :] == ["/etc", "/var/backups/hisguard/staging"]
    with pytest.raises(rs.ResticError) as err:
        restic(runner).backup(["/nope"])
    assert err.value.kind == "path_not_found"


def test_incomplete_backup_is_marked():
    summary = restic(Recorded("backup_incomplete")).backup(["/srv"])
    assert summary["incomplete"] and "could not be read" in summary["warnings"]


def test_check_raises_data_corrupted():
    with pytest.raises(rs.ResticError) as err:
        restic(Recorded("check_corrupted")).check(read_data_subset="1/10")
    assert err.value.kind == "data_corrupted"
    assert "data corrupted" in err.value.message


def test_restore_raises_clear_errors():
    for name, kind in (("restore_corrupted", "data_corrupted"), ("restore_no_space", "no_space")):
        with pytest.raises(rs.ResticError) as err:
            restic(Recorded(name)).restore("latest", "/var/tmp/drill", host="srv-his")
        assert err.value.kind == kind
        assert err.value.stderr.count("\n") < 10


def test_copy_passes_the_source_password_file():
    runner = Recorded("copy_ok")
    result = restic(runner, "sftp:restic@b:/srv/restic/repos/h").copy(
        "/var/backups/hisguard/restic", "/p", host="h"
    )
    assert len(result["copied"]) == 2
    argv, env = runner.calls[0]
    assert argv[-4:] == ["--from-repo", "/var/backups/hisguard/restic", "--host", "h"]
    assert env["RESTIC_FROM_PASSWORD_FILE"] == "/p"


def test_forget_requires_a_policy():
    with pytest.raises(ValueError):
        rs.retention_args({})
    assert rs.retention_args({"daily": 7, "weekly": 4, "monthly": 12}) == [
        "--keep-daily",
        "7",
        "--keep-weekly",
        "4",
        "--keep-monthly",
        "12",
    ]


# ------------------------------------------------------------------ validation and helpers


@pytest.mark.parametrize("good", ["latest", "4ad92470", "a" * 64])
def test_snapshot_refs(good):
    assert rs.check_snapshot_ref(good) == good


@pytest.mark.parametrize("bad", ["--target=/", "last", "4ad9", "", None])
def test_bad_snapshot_refs(bad):
    with pytest.raises(ValueError):
        rs.check_snapshot_ref(bad)


def test_subsets():
    assert rs.check_subset("3/10") == "3/10"
    assert rs.check_subset("5%") == "5%"
    for bad in ("0/10", "11/10", "ten", "1/0"):
        with pytest.raises(ValueError):
            rs.check_subset(bad)
    assert [rs.rotating_subset(i, 4) for i in range(6)] == ["1/4", "2/4", "3/4", "4/4", "1/4", "2/4"]


def test_paths_overlap():
    assert rs.paths_overlap("/etc", "/etc/ssh")
    assert rs.paths_overlap("/var/tmp/drill/", "/var")
    assert rs.paths_overlap("/", "/srv")
    assert not rs.paths_overlap("/var/tmp/drill", "/var/backups")
    assert not rs.paths_overlap("/etc2", "/etc")


def test_secret_file_is_0400_in_a_private_directory_and_removed(tmp_path):
    with rs.secret_file("s3cret-value") as path:
        assert Path(path).read_text() == "s3cret-value\n"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o400
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.dirname(path))


def test_host_lock_excludes_a_second_holder(tmp_path):
    lock = str(tmp_path / "run" / "hisguard-backup.lock")
    with rs.host_lock(lock, purpose="backup"):
        with pytest.raises(rs.ResticError) as err, rs.host_lock(lock, timeout=0.3, purpose="check"):
            pass
        assert err.value.kind == "host_locked"
        assert "backup" in err.value.message  # names the holder
    with rs.host_lock(lock, purpose="prune"):
        pass


def test_manifest_round_trip(tmp_path):
    source = tmp_path / "src" / "etc"
    source.mkdir(parents=True)
    (source / "hosts").write_text("127.0.0.1 localhost\n")
    (source / "changing.log").write_text("one\n")
    (source / "damaged.conf").write_text("good\n")
    manifest = rs.build_manifest([str(source)])
    assert set(manifest["files"]) == {str(source / n) for n in ("hosts", "changing.log", "damaged.conf")}

    restored = tmp_path / "restored"
    for path in manifest["files"]:
        target = restored / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(path).read_bytes())
        os.utime(target, (Path(path).stat().st_atime, Path(path).stat().st_mtime))
    assert rs.compare_manifest(manifest, str(restored))["ok"]

    damaged = restored / str(source / "damaged.conf").lstrip("/")
    mtime = damaged.stat().st_mtime
    damaged.write_text("bad!\n")
    os.utime(damaged, (mtime, mtime))
    changing = restored / str(source / "changing.log").lstrip("/")
    changing.write_text("one\ntwo\n")
    (restored / str(source / "hosts").lstrip("/")).unlink()
    result = rs.compare_manifest(manifest, str(restored))
    assert not result["ok"]
    assert result["mismatched"] == [str(source / "damaged.conf")]
    assert result["missing"] == [str(source / "hosts")]
    assert result["changed_during_backup"] == [str(source / "changing.log")]
