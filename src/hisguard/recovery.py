"""The recovery steps an incident runs: diagnose, fail over an uplink, replace a switch by the spare,
restart a service, restore from backup. Each step runs its playbook through hisguard.runner (the
failover steps through hisguard.failover, which does) and returns a StepResult: outcome, wall time,
the run's id and artifacts, and a JSON-able detail for the incident timeline.

Nothing here writes the timeline: hisguard.commands.incident and hisguard.faultdrill record the
start and the result of each step (the failover library adds its own entries while it runs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hisguard import diagnosis, paths
from hisguard.drill import record_recovery
from hisguard.errors import UserError
from hisguard.runner import RunResult, run_playbook

STEPS = ("diagnose", "failover-uplink", "replace-switch", "restart-service", "restore")
RESTORE_PLAYBOOK = "restore.yml"
EventHandler = Callable[[dict], None] | None


@dataclass
class StepResult:
    step: str
    ok: bool
    outcome: str  # done | planned | nothing_to_do | failed | rolled_back | ...
    message: str
    seconds: float
    started: datetime
    run: str | None = None
    artifacts: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    diagnosis: diagnosis.Diagnosis | None = None

    def timeline_detail(self) -> dict[str, Any]:
        """What the incident.run entry carries (no secrets: outcomes, ids, paths, causes)."""
        return {
            "step": self.step,
            "ok": self.ok,
            "outcome": self.outcome,
            "message": self.message,
            "seconds": round(self.seconds, 3),
            "started": self.started.isoformat(timespec="milliseconds"),
            "run": self.run,
            "artifacts": self.artifacts,
            **self.detail,
        }


def _result(step: str, run: RunResult, started: datetime, seconds: float, **detail: Any) -> StepResult:
    return StepResult(
        step=step,
        ok=run.ok,
        outcome="done" if run.ok else "failed",
        message="" if run.ok else f"the playbook failed ({run.status}): see {run.artifacts_dir / 'stdout'}",
        seconds=seconds,
        started=started,
        run=run.ident,
        artifacts=str(run.artifacts_dir),
        detail=detail,
    )


def _failure_message(run: RunResult) -> str:
    """The first failed task's message from the run's events (job_events/*.json)."""
    events_dir = run.artifacts_dir / "job_events"
    if not events_dir.is_dir():
        return ""
    for path in sorted(events_dir.glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0])):
        try:
            event = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            data = event.get("event_data", {})
            if data.get("ignore_errors"):
                continue
            msg = str((data.get("res") or {}).get("msg", "")).strip().splitlines()
            return f"{data.get('host')}: {data.get('task')}: {msg[0] if msg else event['event']}"
    return ""


# ------------------------------------------------------------------------------------------ diagnose
def diagnose(
    output: Path,
    inventory: str | Path | None = None,
    limit: str | None = None,
    on_event: EventHandler = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> StepResult:
    """Run playbooks/incident_diagnose.yml, write its document to `output` and rank the causes."""
    output.parent.mkdir(parents=True, exist_ok=True)
    started, clock = now(), time.monotonic()
    run = run_playbook(
        "incident_diagnose.yml",
        inventory=inventory,
        extravars={"incident_diagnose_output": str(output)},
        # The last play (writing the document) runs on the controller: keep it in any limit.
        limit=f"{limit},localhost" if limit else None,
        on_event=on_event,
    )
    seconds = time.monotonic() - clock
    if not output.is_file():
        result = _result("diagnose", run, started, seconds)
        result.ok, result.outcome = False, "failed"
        result.message = (
            _failure_message(run) or f"the diagnosis wrote no document: see {run.artifacts_dir / 'stdout'}"
        )
        return result
    try:
        ranked = diagnosis.rank(json.loads(output.read_text(encoding="utf-8")), now())
    except (ValueError, diagnosis.DiagnosisError) as err:
        raise UserError(f"the diagnosis document {output} is unusable: {err}") from None
    failed_checks = [c for c in ranked.checks if c.ok is False]
    result = _result(
        "diagnose",
        run,
        started,
        seconds,
        document=str(output),
        causes=[_cause_json(c) for c in ranked.causes[:8]],
        warnings=ranked.warnings,
        checks_failed=[f"{c.host}: {c.item}: {c.observed}" for c in failed_checks][:20],
        hosts=len({c.host for c in ranked.checks}),
    )
    result.diagnosis = ranked
    result.ok = True  # the diagnosis ran; its findings are in causes (unreachable hosts fail tasks)
    result.outcome = "fault-found" if ranked.causes else "no-fault-found"
    if ranked.causes:
        top = ranked.causes[0]
        result.message = f"{len(ranked.causes)} finding(s); most likely: {top.key} ({top.title_en})"
    else:
        result.message = "no fault found by the automated checks"
    return result


def _cause_json(c: diagnosis.Cause) -> dict[str, Any]:
    return {
        "key": c.key,
        "score": c.score,
        "title_zh": c.title_zh,
        "title_en": c.title_en,
        "hosts": list(c.hosts),
        "evidence": list(c.evidence),
        "suggestion_zh": c.suggestion_zh,
        "suggestion_en": c.suggestion_en,
        "command": c.command,
        "symptom": c.symptom,
        "article": c.article,
    }


# ------------------------------------------------------------------------------------------ failover
def _failover_step(step: str, call: Callable[[], Any], started: datetime) -> StepResult:
    clock = time.monotonic()
    try:
        res = call()
    except UserError as err:  # the request was refused before anything was sent
        return StepResult(step, False, "failed", err.message, time.monotonic() - clock, started)
    return StepResult(
        step=step,
        ok=res.ok,
        outcome=res.outcome,
        message=res.message,
        seconds=res.seconds,
        started=started,
        run=res.run.ident if res.run else None,
        artifacts=str(res.run.artifacts_dir) if res.run else None,
        detail={
            "device": res.device,
            "apply": res.apply,
            "commands": len(res.commands),
            "warnings": res.warnings,
            "steps_file": str(res.steps_file) if res.steps_file else None,
            "device_seconds": res.details.get("seconds"),
        },
    )


def failover_uplink(
    device: str,
    apply: bool,
    back: bool = False,
    inventory: str | Path | None = None,
    on_event: EventHandler = None,
) -> StepResult:
    """Move `device` to its backup fibre (P3.8.3), or back with `back`, via hisguard.failover."""
    from hisguard import failover

    started = datetime.now(UTC)
    result = _failover_step(
        "failover-uplink",
        lambda: failover.uplink(device, apply=apply, back=back, inventory=inventory, on_event=on_event),
        started,
    )
    result.detail.setdefault("device", device)
    result.detail["direction"] = "failback" if back else "failover"
    return result


def replace_switch(
    failed: str,
    spare: str,
    apply: bool,
    inventory: str | Path | None = None,
    on_event: EventHandler = None,
) -> StepResult:
    """Load `failed`'s last configuration backup onto `spare` (P3.8.3), via hisguard.failover."""
    from hisguard import failover

    started = datetime.now(UTC)
    result = _failover_step(
        "replace-switch",
        lambda: failover.switch(failed, spare, apply=apply, inventory=inventory, on_event=on_event),
        started,
    )
    result.detail.update({"failed": failed, "spare": spare})
    return result


# ------------------------------------------------------------------------------------------- service
def restart_service(
    host: str,
    service: str,
    apply: bool = True,
    inventory: str | Path | None = None,
    on_event: EventHandler = None,
) -> StepResult:
    """Restart `service` on `host` and check it runs (playbooks/incident_service.yml)."""
    started, clock = datetime.now(UTC), time.monotonic()
    run = run_playbook(
        "incident_service.yml",
        inventory=inventory,
        extravars={"incident_service_host": host, "incident_service_name": service},
        check=not apply,
        on_event=on_event,
    )
    result = _result("restart-service", run, started, time.monotonic() - clock, host=host, service=service)
    if not run.ok:
        result.message = _failure_message(run) or result.message
    elif not apply:
        result.outcome, result.message = "planned", f"dry run: {service} on {host} would be restarted"
    else:
        result.message = f"{service} on {host} restarted and answering"
    return result


# ------------------------------------------------------------------------------------------- restore
def restore(
    host: str,
    apply: bool,
    confirm: str | None = None,
    extravars: dict[str, str] | None = None,
    inventory: str | Path | None = None,
    on_event: EventHandler = None,
) -> StepResult:
    """Restore `host`'s data from backup (P3.8.1) with the backup issue's playbooks/restore.yml.

    A dry run (the playbook's own: it lists what would be written) unless `apply` AND `confirm`
    names the host, as the playbook itself requires. The playbook never overwrites the live
    database: a dump is restored into a new database (backup_restore_database=NAME). extravars
    (e.g. backup_restore_snapshot, backup_restore_target, backup_restore_database) pass through.
    """
    if not paths.playbook(RESTORE_PLAYBOOK).is_file():
        raise UserError(
            f"playbooks/{RESTORE_PLAYBOOK} is not installed (the backup issue ships it): restore by hand "
            "following the data backup and recovery plan (《数据备份恢复方案》) and record it with "
            '`hisguard incident log "..."`'
        )
    if apply and confirm != host:
        raise UserError(
            f"a restore writes data on {host}: confirm it with --confirm {host} (nothing was restored); "
            "without --apply it is a dry run that shows what would be written"
        )
    variables = {k: v for k, v in (extravars or {}).items() if not k.startswith("backup_restore_apply")}
    variables.pop("backup_restore_confirm", None)
    if apply:
        variables.update(backup_restore_apply=True, backup_restore_confirm=host)
    started, clock = datetime.now(UTC), time.monotonic()
    run = run_playbook(
        RESTORE_PLAYBOOK, inventory=inventory, extravars=variables, limit=host, on_event=on_event
    )
    record_recovery(run.artifacts_dir)  # every restore step into the open incident's timeline (P3.8.4)
    result = _result(
        "restore", run, started, time.monotonic() - clock, host=host, apply=apply, variables=sorted(variables)
    )
    if not run.ok:
        result.message = _failure_message(run) or result.message
    elif not apply:
        result.outcome = "planned"
        result.message = (
            f"dry run of the restore on {host}: nothing was written (see {run.artifacts_dir / 'stdout'})"
        )
    else:
        result.message = f"restore on {host} finished (record in {run.artifacts_dir})"
    return result
