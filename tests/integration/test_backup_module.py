"""hisguard.infosec.restic against the real restic binary on the controller (no lab needed).

Each case runs a small playbook through hisguard.runner.run_playbook (ansible-runner) on localhost;
the password reaches the module through a 0600 extra-vars file, and the tests check that it never
shows up in the runner's artifacts or in any process's arguments.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from hisguard.runner import run_playbook

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed")

PASSWORD = "module-it-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("restic-module")
    (base / "data" / "etc").mkdir(parents=True)
    (base / "data" / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (base / "data" / "his.dump").write_bytes(os.urandom(4 * 1024 * 1024))
    (base / "inventory.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                        }
                    }
                }
            }
        )
    )
    secret = base / "secret.yml"
    secret.write_text(yaml.safe_dump({"restic_password": PASSWORD}))
    secret.chmod(0o600)
    return base


def play(workdir: Path, tasks: list[dict], name: str) -> dict:
    """Run `tasks` on localhost; returns {task name: registered result} from the runner's events."""
    playbook = workdir / f"{name}.yml"
    playbook.write_text(
        yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    )
    results: dict[str, dict] = {}

    def on_event(event: dict) -> None:
        data = event.get("event_data", {})
        if event.get("event") in ("runner_on_ok", "runner_on_failed"):
            results[data.get("task")] = {
                **data.get("res", {}),
                "_failed": event["event"] == "runner_on_failed",
            }

    run = run_playbook(
        str(playbook),
        inventory=workdir / "inventory.yml",
        extravar_files=[workdir / "secret.yml"],
        on_event=on_event,
    )
    results["_run"] = {"dir": str(run.private_dir)}
    return results


def restic_task(name: str, **args) -> dict:
    return {"name": name, "hisguard.infosec.restic": args, "ignore_errors": True}


def assert_no_password(run_dir: str) -> None:
    for path in Path(run_dir).rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), f"password leaked into {path}"


def test_module_round_trip(workdir):
    repo = str(workdir / "repo")
    copy = str(workdir / "copy")
    data = str(workdir / "data")
    common = {"password": "{{ restic_password }}", "cache_dir": str(workdir / "cache")}
    results = play(
        workdir,
        [
            restic_task("init", command="init", repository=repo, **common),
            restic_task("init again", command="init", repository=repo, **common),
            restic_task("backup", command="backup", repository=repo, paths=[data], host="srv-his", **common),
            restic_task("snapshots", command="snapshots", repository=repo, host="srv-his", **common),
            restic_task(
                "init copy",
                command="init",
                repository=copy,
                from_repository=repo,
                from_password="{{ restic_password }}",
                **common,
            ),
            restic_task(
                "copy",
                command="copy",
                repository=copy,
                from_repository=repo,
                from_password="{{ restic_password }}",
                **common,
            ),
            restic_task(
                "copy again",
                command="copy",
                repository=copy,
                from_repository=repo,
                from_password="{{ restic_password }}",
                **common,
            ),
            restic_task("check", command="check", repository=repo, read_data_subset="1/2", **common),
            restic_task(
                "restore into a backed-up path",
                command="restore",
                repository=repo,
                target=data + "/restored",
                protected_paths=[data],
                **common,
            ),
            restic_task(
                "restore", command="restore", repository=repo, target=str(workdir / "restored"), **common
            ),
            restic_task(
                "dump",
                command="dump",
                repository=repo,
                dump_path=data + "/etc/hosts",
                dest=str(workdir / "hosts.out"),
                **common,
            ),
            restic_task("forget", command="forget", repository=repo, retention={"last": 1}, **common),
            restic_task(
                "wrong password", command="snapshots", repository=repo, password="not-it", no_cache=True
            ),
            restic_task("missing", command="snapshots", repository=str(workdir / "none"), **common),
        ],
        "round-trip",
    )
    assert results["init"]["changed"] and results["init"]["created"]
    assert not results["init again"]["changed"]
    assert results["backup"]["summary"]["total_bytes_processed"] > 4_000_000
    latest = results["snapshots"]["latest"]
    assert latest["hostname"] == "srv-his" and latest["id"].startswith(
        results["backup"]["summary"]["snapshot_id"]
    )
    assert results["copy"]["changed"] and len(results["copy"]["copied"]["copied"]) == 1
    assert not results["copy again"]["changed"] and results["copy again"]["copied"]["skipped"]
    assert results["check"]["check"]["no_errors"]
    refused = results["restore into a backed-up path"]
    assert (
        refused["_failed"]
        and refused["error_kind"] == "usage"
        and "overlaps the backed-up path" in refused["msg"]
    )
    assert results["restore"]["restore"]["verified"]
    assert (workdir / "restored" / data.lstrip("/") / "his.dump").stat().st_size == 4 * 1024 * 1024
    assert (workdir / "hosts.out").read_text() == "127.0.0.1 localhost\n"
    assert (workdir / "hosts.out").stat().st_mode & 0o777 == 0o600
    wrong = results["wrong password"]
    assert wrong["_failed"] and wrong["error_kind"] == "wrong_password" and "wrong password" in wrong["msg"]
    missing = results["missing"]
    assert missing["_failed"] and missing["error_kind"] == "repo_missing"
    assert_no_password(results["_run"]["dir"])


def test_failed_restore_leaves_no_partial_restore(workdir):
    """A full file system (a 1 MiB tmpfs) under the restore target: restic fails, the module cleans up."""
    tiny = workdir / "tiny"
    tiny.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(tiny)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        results = play(
            workdir,
            [
                restic_task(
                    "restore to a full disk",
                    command="restore",
                    repository=str(workdir / "repo"),
                    password="{{ restic_password }}",
                    target=str(tiny / "drill"),
                )
            ],
            "full-disk",
        )
        failed = results["restore to a full disk"]
        assert failed["_failed"] and failed["error_kind"] == "no_space"
        assert "no space left" in failed["msg"] and "partial restore" in failed["msg"]
        assert failed["stderr"].count("\n") < 25  # one line per failed file, collapsed
        assert list(tiny.iterdir()) == []
    finally:
        subprocess.run(["umount", str(tiny)], check=False)


def test_corrupted_pack_is_reported_as_data_corrupted(workdir):
    corrupt = workdir / "repo-corrupt"
    shutil.copytree(workdir / "repo", corrupt)
    pack = max((p for p in (corrupt / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    pack.chmod(0o600)
    with pack.open("r+b") as handle:
        handle.seek(pack.stat().st_size // 2)
        handle.write(b"CORRUPTED" * 4)
    results = play(
        workdir,
        [
            restic_task(
                "check",
                command="check",
                repository=str(corrupt),
                password="{{ restic_password }}",
                read_data=True,
                no_cache=True,
            )
        ],
        "corrupt",
    )
    assert results["check"]["_failed"] and results["check"]["error_kind"] == "data_corrupted"
    assert results["check"]["msg"].startswith("data corrupted")


def test_password_never_in_process_arguments(workdir):
    """Scan every /proc/*/cmdline while a module backup of 200 MiB runs: no process carries the password."""
    big = workdir / "big"
    big.mkdir()
    with (big / "blob").open("wb") as handle:
        for _ in range(200):
            handle.write(os.urandom(1024 * 1024))
    seen_restic = []
    leaks = []
    stop = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            for proc in Path("/proc").glob("[0-9]*"):
                try:
                    argv = (proc / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                text = b" ".join(argv).decode(errors="replace")
                if PASSWORD in text:
                    leaks.append(text)
                if argv and argv[0].endswith(b"restic") and b"backup" in argv:
                    seen_restic.append(text)
            time.sleep(0.05)

    scanner = threading.Thread(target=scan, daemon=True)
    scanner.start()
    try:
        results = play(
            workdir,
            [
                restic_task(
                    "big backup",
                    command="backup",
                    repository=str(workdir / "repo"),
                    password="{{ restic_password }}",
                    paths=[str(big)],
                )
            ],
            "argv",
        )
    finally:
        stop.set()
        scanner.join()
    assert not results["big backup"]["_failed"], results["big backup"].get("msg")
    assert seen_restic, "the scan never saw restic run"
    assert not leaks
    assert_no_password(results["_run"]["dir"])
    shutil.rmtree(big)


def test_results_are_json_serialisable(workdir):
    results = play(
        workdir,
        [
            restic_task(
                "stats", command="stats", repository=str(workdir / "repo"), password="{{ restic_password }}"
            )
        ],
        "stats",
    )
    assert results["stats"]["stats"]["total_size"] > 0
    json.dumps(results["stats"])
