"""The JSON report (schema hisguard.report/1): the run, summary, every article, hosts, results, waivers."""

from __future__ import annotations

import json
from typing import Any

from hisguard.report.model import ReportData, WaiverUse

REPORT_SCHEMA = "hisguard.report/1"
FORMULA = "pass / (pass + fail + error) over (host, control) pairs; waived and not_applicable excluded"


def _waivers(uses: list[WaiverUse]) -> list[dict[str, Any]]:
    return [{**use.waiver, "hosts_affected": use.hosts} for use in uses]


def report_dict(data: ReportData) -> dict[str, Any]:
    run = data.run
    return {
        "schema": REPORT_SCHEMA,
        "lang": data.lang,
        "generated": data.generated,
        "organization": data.organization,
        "run": {
            "id": run.id,
            "kind": run.kind,
            "mode": run.mode,
            "playbook": run.playbook,
            "started": run.started,
            "finished": run.finished,
            "status": run.status,
            "results_file": run.results_file,
            "hosts": run.hosts,
            "stats": run.stats,
        },
        "summary": {
            "compliance_percent": data.compliance,
            "formula": FORMULA,
            "counts": dict(data.counts),
            "hosts": len(data.hosts),
        },
        "articles": [
            {
                "id": a.id,
                "title": a.title,
                "implementation": a.implementation,
                "checked_by": a.checked_by,
                "status": a.status,
                "needs_attestation": a.needs_attestation,
                "in_catalog": a.in_catalog,
                "chapter": a.chapter,
                "counts": dict(a.counts),
            }
            for a in data.articles
        ],
        "hosts": [
            {
                "host": h.name,
                "status": h.status,
                "counts": dict(h.counts),
                "controls": [{"control": c.control, "status": c.status} for c in h.controls],
            }
            for h in data.hosts
        ],
        "results": [result.to_dict() for result in data.results],
        "waivers": _waivers(data.waivers),
        "expired_waivers": _waivers(data.expired_waivers),
        "trend": [
            {"run": p.run_id, "started": p.started, "compliance_percent": p.compliance, "counts": p.counts}
            for p in data.trend
        ],
    }


def render_json(data: ReportData) -> str:
    return json.dumps(report_dict(data), ensure_ascii=False, indent=2) + "\n"
