"""`hisguard drill fault --scenario ...`: an emergency-plan drill on the lab (P3.9.2 / P4.9.2).

The `drill` command belongs to the backup issue (hisguard.commands.drill, `drill restore`); this
module adds its `fault` action to the same `drill` parser when that exists, or creates `drill`
when it does not, so the two modules register in either order.
"""

from __future__ import annotations

import argparse

from hisguard import faultdrill, notify
from hisguard.progress import Progress


def _drill_actions(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The sub-action parsers of `drill` (created when no other module made `drill` yet)."""
    parser = sub.choices.get("drill")
    if parser is None:
        parser = sub.add_parser(
            "drill", help="drills: restore drills (backups) and emergency-plan fault drills"
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="action", metavar="ACTION", required=True)


def register(sub: argparse._SubParsersAction) -> None:
    actions = _drill_actions(sub)
    p = actions.add_parser(
        "fault",
        help="emergency-plan drill on the lab: inject a fault, recover, time each step, put the lab back",
    )
    p.add_argument("--scenario", required=True, choices=faultdrill.SCENARIOS)
    p.add_argument(
        "--config", help="incident settings (default: $HISGUARD_INCIDENT_CONFIG or var/incident.yml)"
    )
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the summary printed")
    p.set_defaults(func=_fault)


def _fault(args: argparse.Namespace) -> int:
    settings = notify.load_settings(args.config)
    result = faultdrill.run_drill(args.scenario, log=print, on_event=Progress().event, settings=settings)
    zh = args.lang == "zh"
    print()
    print(("演练" if zh else "drill") + f" {result.scenario}: {result.incident_id}")
    for step in result.steps:
        print(
            f"  {step.seconds:7.1f} s  {'ok  ' if step.ok else 'FAIL'}  {step.name}  {step.message}".rstrip()
        )
    ttr = f"{result.time_to_recovery:.1f} s" if result.time_to_recovery is not None else "-"
    print(("从注入故障到恢复: " if zh else "time to recovery: ") + ttr)
    put_back = ("是" if zh else "yes") if result.putback_ok else ("否" if zh else "NO")
    print(("实验环境已恢复: " if zh else "lab put back: ") + put_back)
    for problem in result.problems:
        print(f"  ! {problem}")
    for path in result.reports:
        print(("报告: " if zh else "report: ") + str(path))
    return 0 if result.ok else 1
