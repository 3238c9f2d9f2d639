"""Machine-room inspections (机房巡检): run playbooks/inspect_<kind>.yml through ansible-runner, store the
run's results, and append one entry with every inspected item to the machine-room log (机房日志) in the store.

The items come from the evidence of the inspection role's results (evidence.items); a host that did not
answer or whose inspection failed shows as an `error` item, so nothing silently drops out of the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hisguard.errors import UserError
from hisguard.results import Result, load_results
from hisguard.runner import RunResult, run_playbook
from hisguard.store import Store

KINDS = ("daily", "monthly")
ITEM_STATUSES = ("alarm", "error", "warning", "ok", "not_applicable")  # most urgent first
PLAYBOOKS = {"daily": "inspect_daily.yml", "monthly": "inspect_monthly.yml"}
ITEM_ORDER = ("ups", "services", "disk", "backup", "switch", "smart", "fs_errors", "uptime", "hardware_age")


@dataclass
class InspectionOutcome:
    inspection_id: int
    entry: dict[str, Any]
    run: RunResult
    run_id: int | None


def overall_status(items: list[dict[str, Any]]) -> str:
    """alarm | error | warning | ok: the most urgent item status (not_applicable items count as ok)."""
    states = {i["status"] for i in items}
    for status in ("alarm", "error", "warning"):
        if status in states:
            return status
    return "ok"


def items_from_results(
    results: list[Result], stats: dict[str, Any], hosts: list[str]
) -> list[dict[str, Any]]:
    """The log items of one run: each result's evidence.items; an error item per result without items
    (e.g. an unknown control) and per host that failed or did not answer without reporting anything."""
    items: list[dict[str, Any]] = []
    reported: set[str] = set()
    for result in sorted(results, key=lambda r: (r.host, r.control)):
        found = (result.evidence or {}).get("items") or []
        reported.add(result.host)
        if not found:
            items.append(
                {
                    "host": result.host,
                    "item": "inspection",
                    "subject": result.control,
                    "control": result.control,
                    "status": "error" if result.status == "error" else "not_applicable",
                    "summary": str(result.observed),
                    "detail": {},
                }
            )
        for found_item in found:
            items.append({"host": result.host, **found_item})
    items.sort(key=lambda i: (i["host"], ITEM_ORDER.index(i["item"]) if i["item"] in ITEM_ORDER else 99))
    troubled: dict[str, str] = {}
    for key, what in (("dark", "did not answer (unreachable)"), ("failures", "inspection failed")):
        for host in (stats or {}).get(key) or {}:
            troubled.setdefault(host, what)
    for host in sorted(set(hosts) | set(troubled)):
        if host not in reported:
            what = troubled.get(host, "reported nothing")
            items.append(
                {
                    "host": host,
                    "item": "inspection",
                    "subject": "-",
                    "control": None,
                    "status": "error",
                    "summary": f"{host} {what}: see the run's artifacts",
                    "detail": {},
                }
            )
    return items


def run_inspection(
    kind: str,
    inspector: str | None = None,
    notes: str | None = None,
    inventory: str | None = None,
    limit: str | None = None,
    db_path: str | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> InspectionOutcome:
    """Run one inspection and append it to the machine-room log."""
    if kind not in KINDS:
        raise UserError(f"inspection kind must be one of {', '.join(KINDS)} (got {kind!r})")
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    run = run_playbook(PLAYBOOKS[kind], inventory=inventory, limit=limit, on_event=on_event)
    finished = datetime.now(UTC).replace(microsecond=0).isoformat()
    if not run.results_file.exists():
        raise UserError(
            f"the inspection wrote no results ({run.results_file} is missing): "
            f"see {run.artifacts_dir}/stdout",
            exit_code=1,
        )
    result_set = load_results(run.results_file)
    items = items_from_results(result_set.results, run.stats, result_set.hosts)
    entry = {
        "kind": kind,
        "started": started,
        "finished": finished,
        "inspector": inspector,
        "notes": notes,
        "status": overall_status(items),
        "runner_ident": run.ident,
        "items": items,
    }
    with Store(db_path) as store:
        run_id = store.save_run(result_set, kind=f"inspect-{kind}", status=run.status, mode="audit")
        entry["run_id"] = run_id
        inspection_id = store.save_inspection(entry)
    return InspectionOutcome(inspection_id=inspection_id, entry=entry, run=run, run_id=run_id)
