#!/usr/bin/env python3
"""Benchmark: backup and restore of about 1 GiB through hisguard's restic module against the same restic
commands run by hand, as a ratio in one run; then the RTO of a restore drill of the lab's HIS database.

    python scripts/bench/bench_backup.py [--size-mib 1024] [--skip-drill] [--keep]

Part 1 runs on the controller (restic 0.14 from Debian): fresh repositories and caches for each side, the
same arguments (backup --json of one directory; restore latest --verify). The module side runs a playbook
through hisguard.runner (ansible-runner, connection local); its time is the task's duration from the
runner's events (the module's own overhead: AnsiballZ, the password file, JSON parsing), and the whole
ansible-runner run is shown too. Part 2 runs `hisguard drill restore --host srv-his` (the library call)
when the lab's srv-his has backups (playbooks/backup.yml), into a separate store (var/bench/bench.db).
Results: printed, and written to var/bench/backup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from hisguard import paths  # noqa: E402
from hisguard.runner import run_playbook  # noqa: E402


def make_data(directory: Path, size_mib: int) -> None:
    """Three quarters in one large file (a database dump), the rest in 1 MiB files (documents)."""
    directory.mkdir(parents=True)
    large = size_mib * 3 // 4
    with (directory / "his.dump").open("wb") as handle:
        for _ in range(large):
            handle.write(os.urandom(1024 * 1024))
    docs = directory / "docs"
    docs.mkdir()
    for number in range(size_mib - large):
        (docs / f"doc-{number:04d}.bin").write_bytes(os.urandom(1024 * 1024))


def by_hand(work: Path, data: Path, password_file: Path) -> dict[str, float]:
    repo, cache, target = work / "hand-repo", work / "hand-cache", work / "hand-restore"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env.update(RESTIC_PASSWORD_FILE=str(password_file), RESTIC_CACHE_DIR=str(cache))

    def restic(*args: str) -> float:
        started = time.monotonic()
        subprocess.run(["restic", "--repo", str(repo), *args], env=env, check=True, capture_output=True)
        return time.monotonic() - started

    restic("init")
    backup = restic("backup", "--json", str(data))
    restore = restic("restore", "latest", "--target", str(target), "--verify")
    shutil.rmtree(target)
    return {"backup": backup, "restore": restore}


def through_module(work: Path, data: Path, password_file: Path) -> dict[str, float]:
    repo, cache, target = work / "module-repo", work / "module-cache", work / "module-restore"
    inventory = work / "inventory.yml"
    inventory.write_text(
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
    common = {"repository": str(repo), "password_file": str(password_file), "cache_dir": str(cache)}
    playbook = work / "bench.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "bench",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {"name": "init", "hisguard.infosec.restic": {"command": "init", **common}},
                        {
                            "name": "backup",
                            "hisguard.infosec.restic": {"command": "backup", "paths": [str(data)], **common},
                        },
                        {
                            "name": "restore",
                            "hisguard.infosec.restic": {
                                "command": "restore",
                                "target": str(target),
                                "verify": True,
                                **common,
                            },
                        },
                    ],
                }
            ]
        )
    )
    durations: dict[str, float] = {}

    def on_event(event: dict) -> None:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok" and data.get("task") in ("backup", "restore"):
            durations[data["task"]] = float(data.get("duration") or 0)

    started = time.monotonic()
    run = run_playbook(str(playbook), inventory=inventory, on_event=on_event)
    durations["runner_total"] = time.monotonic() - started
    if not run.ok:
        raise SystemExit(f"the module run failed: see {run.artifacts_dir}/stdout")
    shutil.rmtree(target, ignore_errors=True)
    return durations


def lab_has_backups() -> bool:
    proc = subprocess.run(
        ["podman", "exec", "hisguard-srv-his", "test", "-f", "/etc/hisguard/backup/config.json"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def drill_rto(bench_dir: Path) -> dict | None:
    from hisguard.drill import run_restore_drill

    if shutil.which("podman") is None or not lab_has_backups():
        print("drill: skipped (the lab's srv-his has no backups: run playbooks/backup.yml on the lab first)")
        return None
    started = time.monotonic()
    outcome = run_restore_drill(host="srv-his", db_path=bench_dir / "bench.db", lang="en")
    wall = time.monotonic() - started
    host = outcome.record["hosts"][0] if outcome.record["hosts"] else {}
    return {
        "status": outcome.status,
        "rto_seconds": (host.get("rto") or {}).get("seconds"),
        "rpo_seconds": (host.get("rpo") or {}).get("seconds"),
        "drill_seconds": host.get("seconds"),
        "wall_seconds": round(wall, 1),
        "steps": {step["name"]: step.get("seconds") for step in host.get("steps", [])},
        "evidence": str(outcome.evidence.get("html")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="data size in MiB (default 1024)")
    parser.add_argument("--skip-drill", action="store_true", help="only the module-vs-hand comparison")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if shutil.which("restic") is None:
        print("restic is not installed: make setup", file=sys.stderr)
        return 2
    bench_dir = paths.var_dir() / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hisguard-bench-backup-", dir="/var/tmp"))
    try:
        password_file = work / "password"
        password_file.write_text(secrets.token_urlsafe(24) + "\n")
        password_file.chmod(0o400)
        data = work / "data"
        print(f"generating {args.size_mib} MiB of data in {data} ...", flush=True)
        make_data(data, args.size_mib)
        hand = by_hand(work, data, password_file)
        module = through_module(work, data, password_file)
        result = {
            "size_mib": args.size_mib,
            "restic": subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip(),
            "hand": {k: round(v, 2) for k, v in hand.items()},
            "module": {k: round(v, 2) for k, v in module.items()},
            "ratio": {k: round(module[k] / hand[k], 3) for k in ("backup", "restore")},
            "load_average": os.getloadavg(),
        }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{'':10}{'by hand':>10}{'module':>10}{'ratio':>8}   ({result['size_mib']} MiB, {result['restic']})"
    )
    for key in ("backup", "restore"):
        print(f"{key:10}{hand[key]:>9.1f}s{module[key]:>9.1f}s{result['ratio'][key]:>8.2f}")
    print(f"module run through ansible-runner, whole playbook: {module['runner_total']:.1f}s")
    if not args.skip_drill:
        result["drill"] = drill_rto(bench_dir)
        if result["drill"]:
            d = result["drill"]
            print(
                f"drill srv-his: {d['status']}, RTO {d['rto_seconds']} s (restore start to the last "
                f"verification), RPO {d['rpo_seconds']} s, drill {d['drill_seconds']} s, "
                f"wall {d['wall_seconds']} s"
            )
    out = bench_dir / "backup.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
