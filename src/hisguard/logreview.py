"""The weekly server log review (每周检查服务器日志, P2.4.10; 系统日志分析, P2.5.2): run
playbooks/log_review.yml through ansible-runner, build the review record (schema hisguard.log-review/1) from
the findings each server reported, keep it in the store and under var/reports/log-review/<run>/, and record
the reviewer's sign-off."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hisguard import paths
from hisguard.errors import UserError
from hisguard.results import Result, load_results
from hisguard.runner import RunResult, run_playbook
from hisguard.store import Store

SCHEMA = "hisguard.log-review/1"
CATEGORIES = ("auth_failures", "sudo", "new_accounts", "failed_units", "kernel_errors")


@dataclass
class ReviewOutcome:
    review_id: int
    record: dict[str, Any]
    run: RunResult
    report_dir: Path


def period(since: str | None, until: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The reviewed period: dates (YYYY-MM-DD, UTC midnight) or ISO times; default the 7 days up to now."""

    def parse(text: str, name: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise UserError(f"--{name} must be a date YYYY-MM-DD or an ISO time (got {text!r})") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    # The default end is the next whole second, so that what was logged just now is in the period.
    end = (
        parse(until, "until")
        if until
        else (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(seconds=1)
    )
    start = parse(since, "since") if since else end - timedelta(days=7)
    if start >= end:
        raise UserError(f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})")
    return start, end


def build_record(
    results: list[Result],
    stats: dict[str, Any],
    since: datetime,
    until: datetime,
    reviewer: str | None,
    runner_ident: str,
) -> dict[str, Any]:
    """The review record from the P2.4.10 results (evidence.review); hosts that failed are listed as such."""
    hosts: list[dict[str, Any]] = []
    reported: set[str] = set()
    for result in sorted(results, key=lambda r: r.host):
        if result.control != "P2.4.10" or "review" not in (result.evidence or {}):
            continue
        review = result.evidence["review"]
        reported.add(result.host)
        hosts.append(
            {
                "host": result.host,
                "collected": bool(review.get("collected")),
                "source": review.get("source"),
                "kernel_log_visible": review.get("kernel_log_visible"),
                "notes": review.get("notes") or [],
                "counts": {c: int((review.get("counts") or {}).get(c, 0)) for c in CATEGORIES},
                "categories": {
                    c: (review.get("categories") or {}).get(c) or {"count": 0, "lines": []}
                    for c in CATEGORIES
                },
            }
        )
    for key, what in (("dark", "did not answer (unreachable)"), ("failures", "the collection failed")):
        for host in sorted((stats or {}).get(key) or {}):
            if host not in reported:
                reported.add(host)
                hosts.append(
                    {
                        "host": host,
                        "collected": False,
                        "source": None,
                        "kernel_log_visible": None,
                        "notes": [f"{host} {what}: see var/runs/{runner_ident}"],
                        "counts": dict.fromkeys(CATEGORIES, 0),
                        "categories": {c: {"count": 0, "lines": []} for c in CATEGORIES},
                    }
                )
    collected = [h for h in hosts if h["collected"]]
    status = "collected" if hosts and len(collected) == len(hosts) else "partial" if collected else "error"
    return {
        "schema": SCHEMA,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "reviewer": reviewer,
        "status": status,
        "runner_ident": runner_ident,
        "generated": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "totals": {c: sum(h["counts"][c] for h in hosts) for c in CATEGORIES},
        "hosts": hosts,
    }


def report_dir(runner_ident: str) -> Path:
    return paths.var_dir() / "reports" / "log-review" / runner_ident


def write_reports(review: dict[str, Any], directory: Path, lang: str) -> list[Path]:
    """report.<lang>.html and review.json of a stored review (record + sign-off columns)."""
    from hisguard.report.log_review import render_review

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for fmt, name in (("html", f"report.{lang}.html"), ("json", "review.json")):
        path = directory / name
        path.write_text(render_review(review, fmt, lang), encoding="utf-8")
        path.chmod(0o600)  # auth logs name users and source addresses
        written.append(path)
    return written


def run_weekly_review(
    since: str | None = None,
    until: str | None = None,
    reviewer: str | None = None,
    lang: str = "zh",
    inventory: str | None = None,
    limit: str | None = None,
    db_path: str | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> ReviewOutcome:
    start, end = period(since, until)
    run = run_playbook(
        "log_review.yml",
        inventory=inventory,
        limit=limit,
        extravars={"log_review_since": int(start.timestamp()), "log_review_until": int(end.timestamp())},
        on_event=on_event,
    )
    if not run.results_file.exists():
        raise UserError(
            f"the log review wrote no results ({run.results_file} is missing): "
            f"see {run.artifacts_dir}/stdout",
            exit_code=1,
        )
    result_set = load_results(run.results_file)
    record = build_record(result_set.results, run.stats, start, end, reviewer, run.ident)
    directory = report_dir(run.ident)
    with Store(db_path) as store:
        run_id = store.save_run(result_set, kind="log-review", status=run.status, mode="audit")
        review_id = store.save_log_review(record, run_id, str(directory))
        review = store.log_review(review_id)
    write_reports(review, directory, lang)
    return ReviewOutcome(review_id=review_id, record=review, run=run, report_dir=directory)


def sign_off(
    review_id: int | None, signed_by: str, actions: str | None, lang: str, db_path: str | None = None
) -> dict[str, Any]:
    """Record the reviewer's sign-off and the actions taken, then rewrite the kept reports."""
    if not signed_by.strip():
        raise UserError("--by must name who signs the review off")
    with Store(db_path) as store:
        review = store.log_review(review_id)
        store.sign_log_review(review["id"], signed_by.strip(), actions)
        review = store.log_review(review["id"])
    if review.get("report_dir"):
        write_reports(review, Path(review["report_dir"]), lang)
    return review
