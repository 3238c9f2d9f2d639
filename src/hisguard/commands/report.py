"""`hisguard report`, `hisguard history`, `hisguard ingest`: reports and history of stored runs.

Library function for other commands: ingest(results_file, kind, status) stores a results file
written by the hisguard.infosec.compliance callback and returns the run's id.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hisguard import paths
from hisguard.errors import UserError
from hisguard.report import DEFAULT_LANG, EXTENSIONS, FORMATS, LANGS
from hisguard.results import load_results
from hisguard.store import Store, default_db_path


def ingest(
    results_file: str | Path,
    kind: str,
    status: str,
    db_path: str | Path | None = None,
    mode: str | None = None,
) -> int:
    """Store the results file of a finished run; returns the new run's id. UserError on bad input."""
    result_set = load_results(results_file)
    with Store(db_path) as store:
        return store.save_run(result_set, kind=kind, status=status, mode=mode)


def parse_run(text: str | None) -> int | None:
    if text in (None, "", "latest"):
        return None
    try:
        run_id = int(text)
    except ValueError:
        raise UserError(
            f"run must be a number or `latest` (got {text!r}); `hisguard history` lists the runs"
        ) from None
    if run_id <= 0:
        raise UserError(f"run must be a positive number (got {run_id})")
    return run_id


def write_report(
    run: int | None,
    fmt: str,
    lang: str,
    output: str | Path | None = None,
    db_path: str | Path | None = None,
    organization: str | None = None,
) -> Path | None:
    """Render the report of `run` (None: latest) and write it; returns the path (None for stdout, "-").

    organization (hospital|agency): list only the catalog articles that apply to it.
    """
    from hisguard.catalog import load_catalog
    from hisguard.report import render

    with Store(db_path, create=False) as store:
        run_id = store.get_run(run).id
        text = render(store, run_id, fmt, lang, load_catalog(), organization=organization)
    if str(output) == "-":
        sys.stdout.write(text)
        return None
    path = Path(output) if output else paths.var_dir() / "reports" / f"run-{run_id}.{EXTENSIONS[fmt]}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write the report to {path}: {err}") from None
    return path


def _report(args: argparse.Namespace) -> int:
    path = write_report(parse_run(args.run), args.format, args.lang, args.output, args.db, args.organization)
    if path is not None:
        print(path)
    return 0


def _history(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit <= 0:
        raise UserError("--limit must be a positive number")
    from hisguard.report.html import fmt_percent, fmt_time

    db_path = Path(args.db) if args.db else None
    if not (db_path or default_db_path()).exists():
        print(f"no runs stored yet ({db_path or default_db_path()} does not exist)")
        return 0
    with Store(db_path) as store:
        runs = store.runs(limit=args.limit, kind=args.kind)
    if not runs:
        print("no runs stored yet")
        return 0
    header = ("RUN", "KIND", "STARTED", "STATUS", "HOSTS", "COMPLIANCE", "PASS", "FAIL", "ERROR", "WAIVED")
    rows = [header] + [
        (
            str(run.id),
            run.kind + (f"/{run.mode}" if run.mode else ""),
            fmt_time(run.started),
            run.status,
            str(len(run.hosts)),
            fmt_percent(run.compliance),
            str(run.counts["pass"]),
            str(run.counts["fail"]),
            str(run.counts["error"]),
            str(run.counts["waived"]),
        )
        for run in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _ingest(args: argparse.Namespace) -> int:
    run_id = ingest(args.results_file, args.kind, args.status, args.db, args.mode)
    print(f"stored run {run_id}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    db_help = "store file (default: $HISGUARD_DB, else var/hisguard.db)"

    report = subparsers.add_parser(
        "report",
        help="write the compliance report of a stored run (HTML, JSON or JUnit XML)",
        description="Write the report of a run from the store: HTML (self-contained, printable), "
        "JSON for machines, JUnit XML for CI.",
    )
    report.add_argument(
        "run", nargs="?", metavar="RUN", help="run number (default: the latest; see `hisguard history`)"
    )
    report.add_argument("--format", choices=FORMATS, default="html", help="report format (default: html)")
    report.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help="language (default: zh)")
    report.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="where to write (default: var/reports/run-<id>.<ext>; - for stdout)",
    )
    report.add_argument(
        "--organization",
        choices=("hospital", "agency"),
        help="list only the articles for this kind of organization (default: every article)",
    )
    report.add_argument("--db", metavar="PATH", help=db_help)
    report.set_defaults(func=_report)

    history = subparsers.add_parser("history", help="list past runs with their compliance")
    history.add_argument("--limit", type=int, default=20, help="how many runs, newest first (default: 20)")
    history.add_argument("--kind", help="only runs of this kind (audit, enforce, ...)")
    history.add_argument("--db", metavar="PATH", help=db_help)
    history.set_defaults(func=_history)

    ingest_parser = subparsers.add_parser(
        "ingest",
        help="store a results file from a run made outside hisguard (ansible-playbook, AWX)",
        description="Store the JSON results file written by the hisguard.infosec.compliance callback "
        "(var/results/<time>.json, or hisguard-results.json in an ansible-runner/AWX artifact directory).",
    )
    ingest_parser.add_argument("results_file", metavar="RESULTS_FILE", type=Path)
    ingest_parser.add_argument("--kind", default="audit", help="run kind (default: audit)")
    ingest_parser.add_argument("--mode", help="mode of the run (audit, enforce)")
    ingest_parser.add_argument(
        "--status", default="successful", help="run status to record (default: successful)"
    )
    ingest_parser.add_argument("--db", metavar="PATH", help=db_help)
    ingest_parser.set_defaults(func=_ingest)
