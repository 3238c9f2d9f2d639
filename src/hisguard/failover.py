"""Network failover during a fault (P3.8.3): move a switch to its backup fiber, or replace a failed
switch by the spare, through playbooks/failover_uplink.yml and playbooks/failover_switch.yml.

Dry run by default (the playbook in check mode: pre-check and the exact plan, nothing sent). Every
step the device module reports is written, with its time, to the run's artifacts
(`failover-steps.json`) and, when an incident is open, to its timeline (hisguard.timeline).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hisguard import timeline
from hisguard.errors import UserError
from hisguard.netconfig import check_vault_password_file, restorable_file
from hisguard.runner import RunResult, run_playbook

STEPS_FILE = "failover-steps.json"
MODULES = {"uplink": "uplink_failover", "switch": "switch_config_push"}

# Outcomes: planned (dry run), done (applied, verified, saved), nothing_to_do, failed (nothing was
# changed), rolled_back (the change failed and the device is exactly as before), rollback_failed.
OK_OUTCOMES = ("planned", "done", "nothing_to_do")


@dataclass
class FailoverResult:
    kind: str  # uplink | switch
    device: str  # the switch that was (or would be) changed
    apply: bool
    outcome: str
    message: str
    steps: list[dict] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # direction, states, backup, left_alone, seconds
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the whole run
    run: RunResult | None = None
    steps_file: Path | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in OK_OUTCOMES


def uplink(
    device: str,
    apply: bool = False,
    back: bool = False,
    inventory: str | Path | None = None,
    on_event: Callable[[dict], None] | None = None,
    make_before_break: bool = False,
) -> FailoverResult:
    """Fail `device` over to its backup fiber uplink (or back to the primary with `back`)."""
    _check_name(device, "--device")
    direction = "failback" if back else "failover"
    return _run(
        "uplink",
        device,
        "failover_uplink.yml",
        {
            "failover_uplink_device": device,
            "failover_uplink_direction": direction,
            "failover_uplink_make_before_break": make_before_break,
        },
        apply,
        inventory,
        on_event,
        {"direction": direction},
    )


def switch(
    failed: str,
    spare: str,
    apply: bool = False,
    inventory: str | Path | None = None,
    take_identity: bool = False,
    vault_password_file: str | Path | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> FailoverResult:
    """Load `failed`'s last backup onto `spare` (keeping the spare's own hostname and management
    address unless `take_identity`)."""
    _check_name(failed, "--failed")
    _check_name(spare, "--spare")
    if failed == spare:
        raise UserError("--failed and --spare name the same switch: give the failed switch and the spare")
    if not restorable_file(failed).exists():
        raise UserError(
            f"no backup of {failed} at {restorable_file(failed)}: the spare can only take over a switch "
            "that was backed up (`hisguard netconfig backup`, nightly); configure the spare by hand"
        )
    extravars = {
        "failover_switch_failed": failed,
        "failover_switch_spare": spare,
        "failover_switch_identity": "failed" if take_identity else "spare",
    }
    if vault_password_file:
        extravars["failover_switch_vault_password_file"] = str(check_vault_password_file(vault_password_file))
    return _run(
        "switch",
        spare,
        "failover_switch.yml",
        extravars,
        apply,
        inventory,
        on_event,
        {"failed": failed, "spare": spare, "identity": extravars["failover_switch_identity"]},
    )


def _check_name(name: str, option: str) -> None:
    if not name or name.startswith("-") or any(c in name for c in ":,&!*?[] \t\n"):
        raise UserError(f"{option} must name one switch of the inventory (got {name!r})")


def _run(
    kind: str,
    device: str,
    playbook: str,
    extravars: dict,
    apply: bool,
    inventory: str | Path | None,
    on_event: Callable[[dict], None] | None,
    details: dict,
) -> FailoverResult:
    action = f"failover.{kind}"
    timeline.record(f"{action}.start", {"device": device, "apply": apply, **details})
    module_result: dict = {}
    failures: list[dict] = []
    probe: dict = {}

    def handler(event: dict) -> None:
        if on_event is not None:
            on_event(event)
        data = event.get("event_data", {})
        res = data.get("res")
        if not isinstance(res, dict):
            return
        task_action = str(data.get("task_action", ""))
        kind_of = event.get("event")
        if task_action.endswith(MODULES[kind]) and kind_of in ("runner_on_ok", "runner_on_failed"):
            module_result.clear()
            module_result.update(res, _failed=kind_of == "runner_on_failed")
        elif task_action.endswith("wait_for") and kind_of == "runner_on_ok":
            probe.update(res)
        elif kind_of in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            failures.append(
                {"task": data.get("task", ""), "host": data.get("host"), "msg": res.get("msg", "")}
            )

    started = time.monotonic()
    run = run_playbook(playbook, inventory=inventory, extravars=extravars, check=not apply, on_event=handler)
    seconds = time.monotonic() - started

    if not module_result:
        # The playbook stopped before the device module ran: the request itself was wrong.
        message = next((f["msg"] for f in failures if f["msg"]), "") or (
            f"the playbook did not reach {device}: see {run.artifacts_dir / 'stdout'}"
        )
        timeline.record(f"{action}.end", {"device": device, "outcome": "failed", "message": message})
        raise UserError(f"nothing was changed: {message}", exit_code=2 if run.rc != 0 else 1)

    result = FailoverResult(
        kind=kind,
        device=device,
        apply=apply,
        outcome=_outcome(module_result, apply),
        message=str(module_result.get("msg") or ""),
        steps=list(module_result.get("steps") or []),
        commands=list(module_result.get("commands") or []),
        details={
            **details,
            **{
                k: module_result[k]
                for k in (
                    "state_before",
                    "state_after",
                    "backup",
                    "left_alone",
                    "seconds",
                    "verified",
                    "saved",
                )
                if k in module_result
            },
        },
        seconds=seconds,
        run=run,
    )
    if kind == "switch" and probe and not probe.get("failed") and probe.get("state") == "started":
        result.warnings.append(
            f"{details['failed']} still answers on its SSH port: make sure it is out of service before "
            "its cables move to the spare"
        )
    if not result.message:
        result.message = _summary(result)
    result.steps_file = _write_artifact(result)
    _record_steps(result, action)
    return result


def _outcome(res: dict, apply: bool) -> str:
    if res.get("_failed"):
        if res.get("rolled_back"):
            return "rolled_back" if res.get("rollback_verified") else "rollback_failed"
        return "failed"
    if not apply:
        return "planned" if res.get("commands") else "nothing_to_do"
    return "done" if res.get("changed") else "nothing_to_do"


def _summary(result: FailoverResult) -> str:
    if result.outcome == "planned":
        return f"dry run: {len(result.commands)} configuration lines planned, nothing was sent"
    if result.outcome == "nothing_to_do":
        return "nothing to do: the device is already in the wanted state"
    return "applied, verified on the device and saved"


def _write_artifact(result: FailoverResult) -> Path | None:
    if result.run is None:
        return None
    path = result.run.artifacts_dir / STEPS_FILE
    data = {
        "kind": result.kind,
        "device": result.device,
        "apply": result.apply,
        "outcome": result.outcome,
        "message": result.message,
        "details": result.details,
        "warnings": result.warnings,
        "commands": result.commands,
        "steps": result.steps,
        "run": result.run.ident,
        "wall_seconds": round(result.seconds, 3),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, indent=2, default=str)
        out.write("\n")
    return path


def _record_steps(result: FailoverResult, action: str) -> None:
    run = result.run.ident if result.run else None
    try:
        for step in result.steps:
            detail = {"device": result.device, "run": run, **{k: v for k, v in step.items() if k != "step"}}
            detail["at"] = detail.pop("time", None)
            timeline.record(f"{action}.{step.get('step', 'step')}", detail)
        for warning in result.warnings:
            timeline.record(f"{action}.warning", {"device": result.device, "run": run, "detail": warning})
        timeline.record(
            f"{action}.end",
            {
                "device": result.device,
                "run": run,
                "apply": result.apply,
                "outcome": result.outcome,
                "message": result.message,
                "steps_file": str(result.steps_file) if result.steps_file else None,
            },
        )
    except UserError as err:
        result.warnings.append(f"the incident timeline could not be written: {err.message}")


def as_dict(result: FailoverResult) -> dict:
    data = asdict(result)
    data["run"] = result.run.ident if result.run else None
    data["steps_file"] = str(result.steps_file) if result.steps_file else None
    return data
