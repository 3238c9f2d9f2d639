"""Restore drills (P3.8.5 定期模拟恢复): run playbooks/restore_drill.yml through ansible-runner, turn its
P3.8.5 results into one drill record (schema hisguard.drill/1), store it with the run, and write the
evidence (JSON and HTML with sign-off fields) under var/drills/<drill id>/.

Also the link from real restores (playbooks/restore.yml) to the incident timeline: recovery_steps()
reads the JSON-lines record the playbook writes among the run's artifacts, record_recovery() copies
each step into hisguard.timeline.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hisguard import paths
from hisguard.errors import UserError
from hisguard.results import combine_statuses, load_results
from hisguard.runner import RunResult, run_playbook

PLAYBOOK = "restore_drill.yml"
CONTROL = "P3.8.5"
SCHEMA = "hisguard.drill/1"
SOURCES = ("local", "offsite")
DEFAULT_HOSTS = "his_db"
RECOVERY_RECORD_GLOB = "hisguard-recovery-*.jsonl"
SIGN_OFF_FIELDS = ("drill_lead", "reviewer", "approver")
_SNAPSHOT_RE = re.compile(r"^(latest|[0-9a-f]{8,64})$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_.:\-\[\]*!&,]+$")


@dataclass
class DrillOutcome:
    """A finished drill: its record, where it is stored and where the evidence went."""

    record: dict[str, Any]
    run: RunResult
    drill_id: int | None = None
    run_id: int | None = None
    evidence: dict[str, Path] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.record["status"]

    @property
    def ok(self) -> bool:
        return self.status == "pass"


def new_drill_ident() -> str:
    """A drill id: UTC time plus a random suffix; lower case so it names PostgreSQL databases as is."""
    return time.strftime("%Y%m%dt%H%M%Sz", time.gmtime()) + "-" + secrets.token_hex(3)


def check_inputs(host: str | None, snapshot: str, source: str) -> None:
    """UserError naming what to fix, before anything runs."""
    if not _SNAPSHOT_RE.match(snapshot or ""):
        raise UserError(
            f"--snapshot must be `latest` or a snapshot id (8 to 64 hex digits), got {snapshot!r}"
        )
    if source not in SOURCES:
        raise UserError(f"--source must be one of {', '.join(SOURCES)}, got {source!r}")
    if host is not None and not _HOST_RE.match(host):
        raise UserError(f"--host must be an inventory host name or pattern, got {host!r}")


def drill_status(host_records: list[dict[str, Any]]) -> str:
    """The drill's status: pass only when every host passed; fail before error (results' severity)."""
    if not host_records:
        return "error"
    return combine_statuses([record.get("status", "error") for record in host_records])


def host_records_from_results(results_file: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The drill record of each host (evidence of its P3.8.5 result), and problems found on the way."""
    result_set = load_results(results_file)
    records, problems = [], []
    for result in result_set.results:
        if result.control != CONTROL:
            continue
        record = (result.evidence or {}).get("drill")
        if isinstance(record, dict):
            records.append(record)
        else:
            problems.append(f"{result.host}: the P3.8.5 result carries no drill record ({result.observed})")
    return records, problems


def unreachable_records(run: RunResult, seen: set[str], ident: str) -> list[dict[str, Any]]:
    """A failed record for every host Ansible could not reach or that failed before reporting."""
    records = []
    for key in ("dark", "failures"):
        for host in sorted((run.stats or {}).get(key, {})):
            if host in seen:
                continue
            seen.add(host)
            message = "host unreachable" if key == "dark" else "the drill playbook failed on this host"
            records.append(
                {
                    "schema": "hisguard.drill-host/1",
                    "drill_id": ident,
                    "host": host,
                    "status": "error",
                    "problems": [f"{message}: see {run.artifacts_dir}/stdout"],
                    "failure": {"step": "connect", "kind": "unreachable", "message": message},
                    "steps": [],
                }
            )
    return records


def build_record(
    ident: str,
    run: RunResult,
    host_records: list[dict[str, Any]],
    problems: list[str],
    started: str,
    finished: str,
    operator: str | None,
    snapshot: str,
    source: str,
) -> dict[str, Any]:
    hosts = sorted(host_records, key=lambda r: r.get("host", ""))
    status = drill_status(hosts)
    if problems and status == "pass":
        status = "error"
    return {
        "schema": SCHEMA,
        "ident": ident,
        "kind": "restore",
        "control": CONTROL,
        "started": started,
        "finished": finished,
        "status": status,
        "operator": operator,
        "snapshot_requested": snapshot,
        "source": source,
        "runner_ident": run.ident,
        "runner_status": run.status,
        "artifacts": str(run.artifacts_dir),
        "problems": problems,
        "hosts": hosts,
        "sign_off": {name: None for name in SIGN_OFF_FIELDS},
    }


def drills_dir() -> Path:
    return paths.var_dir() / "drills"


def write_evidence(record: dict[str, Any], lang: str, directory: Path | None = None) -> dict[str, Path]:
    """evidence.json and report.html (lang) of one drill under var/drills/<ident>/; returns the paths."""
    from hisguard.report.drill import render_drill_record

    directory = directory or drills_dir() / record["ident"]
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o750)
        json_path = directory / "evidence.json"
        json_path.write_text(render_drill_record(record, [], "json", lang), encoding="utf-8")
        html_path = directory / "report.html"
        html_path.write_text(render_drill_record(record, [], "html", lang), encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write the drill evidence to {directory}: {err}") from None
    return {"json": json_path, "html": html_path}


def run_restore_drill(
    host: str | None = None,
    snapshot: str = "latest",
    source: str = "local",
    inventory: str | Path | None = None,
    operator: str | None = None,
    lang: str = "zh",
    db_path: str | Path | None = None,
    extravars: dict[str, Any] | None = None,
    on_event: Callable[[dict], None] | None = None,
    store: bool = True,
) -> DrillOutcome:
    """Run a restore drill on `host` (default: the his_db group) and store and write its evidence.

    extravars: further playbook variables (targets, scratch root); never secrets, they land on disk.
    """
    from hisguard.store import Store

    check_inputs(host, snapshot, source)
    ident = new_drill_ident()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    variables = {
        **(extravars or {}),
        "drill_hosts": host or DEFAULT_HOSTS,
        "backup_drill_id": ident,
        "backup_drill_snapshot": snapshot,
        "backup_drill_source": source,
    }
    run = run_playbook(PLAYBOOK, inventory=inventory, extravars=variables, limit=host, on_event=on_event)
    finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    problems: list[str] = []
    host_records: list[dict[str, Any]] = []
    if run.results_file.exists():
        host_records, problems = host_records_from_results(run.results_file)
    else:
        problems.append(f"the drill run wrote no results: see {run.artifacts_dir}/stdout")
    host_records += unreachable_records(run, {r["host"] for r in host_records}, ident)
    if not host_records and not problems:
        problems.append(
            f"no host matched {host or DEFAULT_HOSTS!r} in the inventory: name a backed-up host with --host"
        )
    record = build_record(ident, run, host_records, problems, started, finished, operator, snapshot, source)
    outcome = DrillOutcome(record=record, run=run)
    if store:
        with Store(db_path) as db:
            if run.results_file.exists():
                outcome.run_id = db.save_run(load_results(run.results_file), kind="drill", status=run.status)
                record["run_id"] = outcome.run_id
            outcome.drill_id = db.save_drill(record, run_id=outcome.run_id)
            record["id"] = outcome.drill_id
    outcome.evidence = write_evidence(record, lang)
    return outcome


# ------------------------------------------------------------------------------ real restores (P3.8.4)
def recovery_steps(artifacts_dir: str | Path) -> list[dict[str, Any]]:
    """The steps playbooks/restore.yml recorded in a run's artifacts (time, host, actor, action, detail)."""
    steps: list[dict[str, Any]] = []
    for path in sorted(Path(artifacts_dir).glob(RECOVERY_RECORD_GLOB)):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(f"{path} line {number} is not JSON: the restore record is damaged") from None
            entry["record"] = str(path)
            steps.append(entry)
    steps.sort(key=lambda entry: entry.get("time", ""))
    return steps


def record_recovery(artifacts_dir: str | Path, actor: str | None = None) -> int:
    """Copy every recorded restore step into the open incident's timeline; returns how many."""
    from hisguard import timeline

    steps = recovery_steps(artifacts_dir)
    for step in steps:
        detail = {**(step.get("detail") or {}), "host": step.get("host"), "time": step.get("time")}
        timeline.record(
            f"restore.{step.get('action', 'step').removeprefix('restore.')}",
            detail,
            actor or step.get("actor"),
        )
    return len(steps)
