"""`hisguard drill restore|report|history`: restore drills (P3.8.5) through ansible-runner, their evidence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hisguard import paths
from hisguard.errors import UserError
from hisguard.report import DEFAULT_LANG, LANGS

DB_HELP = "store file (default: $HISGUARD_DB, else var/hisguard.db)"


def register(subparsers: argparse._SubParsersAction) -> None:
    sub = _drill_actions(subparsers)
    restore = sub.add_parser(
        "restore",
        help="run a restore drill and write its evidence",
        description="Restore the latest (or a given) snapshot of each host into a scratch directory, check a "
        "rotating subset of the repository, compare the files with the checksums recorded at backup time, "
        "restore the database dumps into scratch databases and query them, measure RPO and RTO against their "
        "targets, clean up, store the drill and write var/drills/<drill>/evidence.json and report.html.",
    )
    restore.add_argument("--host", help="host (or pattern) to drill (default: the his_db group)")
    restore.add_argument("--snapshot", default="latest", help="snapshot id or `latest` (default: latest)")
    restore.add_argument(
        "--source",
        choices=("local", "offsite"),
        default="local",
        help="restore from the host's repository or from the off-site copy (default: local)",
    )
    restore.add_argument("--operator", help="who runs the drill (recorded in the evidence)")
    restore.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
    restore.add_argument(
        "--lang", choices=LANGS, default=DEFAULT_LANG, help="language of the evidence report"
    )
    restore.add_argument("--db", metavar="PATH", help=DB_HELP)
    restore.set_defaults(func=_restore)

    report = sub.add_parser("report", help="write the evidence report of a stored drill")
    report.add_argument("drill", nargs="?", metavar="DRILL", help="drill number or id (default: the latest)")
    report.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help="language (default: zh)")
    report.add_argument(
        "--format", choices=("html", "json"), default="html", help="report format (default: html)"
    )
    report.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="where to write (default: var/reports/drill-<n>.<ext>; - for stdout)",
    )
    report.add_argument("--db", metavar="PATH", help=DB_HELP)
    report.set_defaults(func=_report)

    history = sub.add_parser("history", help="list past drills with RPO and RTO")
    history.add_argument("--limit", type=int, default=20, help="how many drills, newest first (default: 20)")
    history.add_argument("--db", metavar="PATH", help=DB_HELP)
    history.set_defaults(func=_history)


def _drill_actions(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The sub-actions of `drill`: created here, or reused when another module (the emergency-plan
    drills' `drill fault`, hisguard.commands.drill_fault) registered `drill` first."""
    parser = subparsers.choices.get("drill")
    if parser is None:
        parser = subparsers.add_parser(
            "drill",
            help="drills: restore drills of the backups (P3.8.5) and emergency-plan fault drills",
            description="Restore drills: restore a backup into a scratch location on the backed-up host, "
            "verify it and measure RPO and RTO (playbooks/restore_drill.yml through ansible-runner), with "
            "evidence reports.",
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="action", metavar="ACTION", required=True)


def parse_drill(text: str | None) -> int | str | None:
    if text in (None, "", "latest"):
        return None
    if text.isdigit():
        if int(text) <= 0:
            raise UserError(f"drill must be a positive number or a drill id (got {text})")
        return int(text)
    return text


def _restore(args: argparse.Namespace) -> int:
    from hisguard.drill import run_restore_drill
    from hisguard.progress import Progress, summary
    from hisguard.report.drill import fmt_seconds

    outcome = run_restore_drill(
        host=args.host,
        snapshot=args.snapshot,
        source=args.source,
        inventory=args.inventory,
        operator=args.operator,
        lang=args.lang,
        db_path=args.db,
        on_event=Progress().event,
    )
    print(summary(outcome.run))
    record = outcome.record
    print(f"drill {record['ident']}: {record['status'].upper()}")
    for problem in record["problems"]:
        print(f"  {problem}")
    for host in record["hosts"]:
        rpo, rto = host.get("rpo") or {}, host.get("rto") or {}
        snapshot = (host.get("snapshot") or {}).get("short_id") or "-"
        line = (
            f"  {host['host']:<14} {host['status']:<5} snapshot {snapshot}  "
            f"RPO {fmt_seconds(rpo.get('seconds'))} (target {fmt_seconds(rpo.get('target_seconds'))})  "
            f"RTO {fmt_seconds(rto.get('seconds'))} (target {fmt_seconds(rto.get('target_seconds'))})"
        )
        print(line)
        failure = host.get("failure")
        if failure:
            print(f"    failed at {failure.get('step')}: {failure.get('message')}")
    if outcome.drill_id is not None:
        print(f"stored drill {outcome.drill_id} (run {outcome.run_id})")
    print(f"evidence: {outcome.evidence['json']}")
    print(f"report: {outcome.evidence['html']}")
    return 0 if outcome.ok else 1


def _report(args: argparse.Namespace) -> int:
    from hisguard.report.drill import EXTENSIONS, render_drill
    from hisguard.store import Store

    with Store(args.db, create=False) as store:
        record, text = render_drill(store, parse_drill(args.drill), args.format, args.lang)
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    path = (
        Path(args.output)
        if args.output
        else paths.var_dir() / "reports" / (f"drill-{record['id']}.{args.lang}.{EXTENSIONS[args.format]}")
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write the drill report to {path}: {err}") from None
    print(path)
    return 0


def _history(args: argparse.Namespace) -> int:
    from hisguard.report.drill import fmt_seconds
    from hisguard.report.html import fmt_time
    from hisguard.store import Store, default_db_path

    if args.limit is not None and args.limit <= 0:
        raise UserError("--limit must be a positive number")
    db_path = Path(args.db) if args.db else default_db_path()
    if not db_path.exists():
        print(f"no drills stored yet ({db_path} does not exist)")
        return 0
    with Store(db_path) as store:
        drills = store.drills(limit=args.limit)
    if not drills:
        print("no drills stored yet")
        return 0
    rows = [("DRILL", "ID", "STARTED", "STATUS", "HOST", "SNAPSHOT", "RPO", "RTO")]
    for item in drills:
        for host in item["hosts"] or [{}]:
            rows.append(
                (
                    str(item["id"]),
                    item["ident"],
                    fmt_time(item["started"]),
                    item["status"],
                    host.get("host") or "-",
                    (host.get("snapshot_id") or "-")[:8],
                    fmt_seconds(host.get("rpo_seconds")),
                    fmt_seconds(host.get("rto_seconds")),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0
