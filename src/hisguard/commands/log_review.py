"""`hisguard logreview weekly|signoff|report|list`: the weekly server log review (P2.4.10, P2.5.2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hisguard.errors import UserError
from hisguard.report import DEFAULT_LANG, LANGS

DB_HELP = "store file (default: $HISGUARD_DB, else var/hisguard.db)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "logreview",
        help="weekly server log review (每周检查服务器日志) with sign-off",
        description="Collect from each server (group `servers`) the period's authentication failures, "
        "sudo use, new accounts, failed units and kernel errors (playbooks/log_review.yml), keep the review "
        "in the store and under var/reports/log-review/<run>/ (HTML, JSON), and record the reviewer's "
        "sign-off.",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    weekly = sub.add_parser(
        "weekly", help="collect and keep the review of the last 7 days (or --since/--until)"
    )
    weekly.add_argument(
        "--since", help="start: YYYY-MM-DD (UTC) or an ISO time (default: 7 days before --until)"
    )
    weekly.add_argument("--until", help="end: YYYY-MM-DD (UTC) or an ISO time (default: now)")
    weekly.add_argument("--reviewer", help="who reviews (shown on the report)")
    weekly.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help="report language (default: zh)")
    weekly.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
    weekly.add_argument("--limit", help="Ansible host pattern within `servers`")
    weekly.add_argument("--db", metavar="PATH", help=DB_HELP)
    weekly.set_defaults(func=_weekly)

    signoff = sub.add_parser("signoff", help="record the reviewer's sign-off and the actions taken")
    signoff.add_argument("review", nargs="?", type=_review_id, help="review number (default: the latest)")
    signoff.add_argument("--by", required=True, help="who signs the review off")
    signoff.add_argument("--actions", help="the analysis and the actions taken (P2.5.2)")
    signoff.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help="report language (default: zh)")
    signoff.add_argument("--db", metavar="PATH", help=DB_HELP)
    signoff.set_defaults(func=_signoff)

    report = sub.add_parser("report", help="print a kept review (HTML or JSON)")
    report.add_argument("review", nargs="?", type=_review_id, help="review number (default: the latest)")
    report.add_argument("--format", choices=("html", "json"), default="html", help="format (default: html)")
    report.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help="language (default: zh)")
    report.add_argument("-o", "--output", metavar="PATH", help="write to a file instead of stdout")
    report.add_argument("--db", metavar="PATH", help=DB_HELP)
    report.set_defaults(func=_report)

    listing = sub.add_parser("list", help="list the kept reviews, newest first")
    listing.add_argument("--limit", type=int, default=20, help="how many (default: 20)")
    listing.add_argument("--db", metavar="PATH", help=DB_HELP)
    listing.set_defaults(func=_list)


def _review_id(text: str) -> int | None:
    if text in ("", "latest"):
        return None
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"review must be a positive number or `latest` (got {text!r})")
    return int(text)


def _weekly(args: argparse.Namespace) -> int:
    from hisguard.logreview import run_weekly_review
    from hisguard.progress import Progress, summary

    outcome = run_weekly_review(
        since=args.since,
        until=args.until,
        reviewer=args.reviewer,
        lang=args.lang,
        inventory=args.inventory,
        limit=args.limit,
        db_path=args.db,
        on_event=Progress(sys.stderr).event,
    )
    print(summary(outcome.run))
    record = outcome.record
    print(f"log review {outcome.review_id} ({record['since']} .. {record['until']}): {record['status']}")
    for host in record["hosts"]:
        counts = " ".join(f"{k}={v}" for k, v in host["counts"].items())
        print(f"  {host['host']:<14} {counts}{'' if host['collected'] else '  NOT COLLECTED'}")
    print(
        f"kept: {outcome.report_dir}/  (sign off: hisguard logreview signoff {outcome.review_id} --by NAME)"
    )
    return 0 if record["status"] == "collected" and outcome.run.ok else 1


def _signoff(args: argparse.Namespace) -> int:
    from hisguard.logreview import sign_off

    review = sign_off(args.review, args.by, args.actions, args.lang, db_path=args.db)
    print(f"log review {review['id']} signed off by {review['signed_by']} at {review['signed']}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from hisguard.report.log_review import render_review
    from hisguard.store import Store

    with Store(args.db, create=False) as store:
        review = store.log_review(args.review)
    text = render_review(review, args.format, args.lang)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as err:
            raise UserError(f"cannot write {args.output}: {err}") from None
        print(f"log review {review['id']}: {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _list(args: argparse.Namespace) -> int:
    from hisguard.store import Store

    with Store(args.db, create=False) as store:
        reviews = store.log_reviews(limit=args.limit)
    if not reviews:
        print("no log review kept yet: run `hisguard logreview weekly`")
        return 0
    for r in reviews:
        signed = f"signed by {r['signed_by']} {r['signed']}" if r["signed"] else "not signed"
        print(f"{r['id']:>4}  {r['since'][:10]} .. {r['until'][:10]}  {r['status']:<9}  {signed}")
    return 0
