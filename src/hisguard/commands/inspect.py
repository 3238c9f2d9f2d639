"""`hisguard inspect daily|monthly|log`: machine-room inspections (机房巡检) and the machine-room log
(机房日志)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from hisguard.errors import UserError
from hisguard.report import DEFAULT_LANG, LANGS

DB_HELP = "store file (default: $HISGUARD_DB, else var/hisguard.db)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="machine-room inspections (daily, monthly) and the machine-room log (机房日志)",
        description="Run the daily inspection (UPS through NUT, key services, disk space, last backup, "
        "switch states) or the monthly equipment check (SMART, file-system errors, uptime, hardware age) "
        "and append it to the machine-room log in the store; print the log.",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for kind, text in (("daily", "the daily inspection"), ("monthly", "the monthly equipment check")):
        run = sub.add_parser(kind, help=f"run {text} and append it to the machine-room log")
        run.add_argument("--inspector", help="who inspects (recorded in the log)")
        run.add_argument(
            "--notes", help="notes for the log entry (e.g. the manual checks of doors and lights)"
        )
        run.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
        run.add_argument("--limit", help="Ansible host pattern to limit the inspection to")
        run.add_argument("--db", metavar="PATH", help=DB_HELP)
        run.set_defaults(func=_run, kind=kind)
    log = sub.add_parser("log", help="print the machine-room log (HTML with sign-off lines, or text)")
    log.add_argument("--since", metavar="DATE", help="entries from this date on (YYYY-MM-DD)")
    log.add_argument("--kind", choices=("daily", "monthly"), help="only this kind of inspection")
    log.add_argument(
        "--format", choices=("html", "text"), default="text", help="output format (default: text)"
    )
    log.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help="language (default: zh)")
    log.add_argument("-o", "--output", metavar="PATH", help="write to a file instead of stdout")
    log.add_argument("--db", metavar="PATH", help=DB_HELP)
    log.set_defaults(func=_log)


def parse_since(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise UserError(f"--since must be a date YYYY-MM-DD (got {text!r})") from None


def _run(args: argparse.Namespace) -> int:
    from hisguard.inspection import run_inspection
    from hisguard.progress import Progress, summary

    outcome = run_inspection(
        args.kind,
        inspector=args.inspector,
        notes=args.notes,
        inventory=args.inventory,
        limit=args.limit,
        db_path=args.db,
        on_event=Progress(sys.stderr).event,
    )
    print(summary(outcome.run))
    entry = outcome.entry
    print(f"machine-room log entry {outcome.inspection_id} ({args.kind}): {entry['status'].upper()}")
    for item in entry["items"]:
        if item["status"] not in ("ok", "not_applicable"):
            print(f"  [{item['status']}] {item['host']} {item['item']}: {item['summary']}")
    print(
        f"print the log: hisguard inspect log --format html -o machine-room-log.html (run {outcome.run_id})"
    )
    return 1 if entry["status"] in ("alarm", "error") or not outcome.run.ok else 0


def _log(args: argparse.Namespace) -> int:
    from hisguard.report.inspection import render_log
    from hisguard.store import Store

    since = parse_since(args.since)
    with Store(args.db) as store:
        entries = store.inspections(since=since, kind=args.kind)
    text = render_log(entries, args.format, args.lang, since=since)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as err:
            raise UserError(f"cannot write {args.output}: {err}") from None
        print(f"machine-room log ({len(entries)} entries): {args.output}")
    else:
        sys.stdout.write(text)
    return 0
