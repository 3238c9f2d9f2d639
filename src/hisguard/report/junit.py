"""JUnit XML for CI: one testsuite per host, one testcase per (host, control).

fail -> <failure>, error -> <error>, waived and not_applicable -> <skipped>.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from hisguard.report.model import ControlResult, ReportData
from hisguard.results import Result


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _details(results: list[Result]) -> str:
    blocks = []
    for r in results:
        lines = [f"[{r.status}] {r.task or r.control}"]
        for label, value in (("observed", r.observed), ("expected", r.expected)):
            if value not in (None, ""):
                lines.append(f"{label}: {_text(value)}")
        if r.remediation and r.status in ("fail", "error"):
            lines.append(f"remediation: {r.remediation}")
        if r.evidence:
            lines.append(f"evidence: {_text(r.evidence)}")
        if r.waiver:
            lines.append(f"waiver: {_text(r.waiver)}")
        if r.expired_waiver:
            lines.append(f"expired waiver (no longer waives): {_text(r.expired_waiver)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _summary(item: ControlResult) -> str:
    first = item.results[0]
    if item.status == "waived" and first.waiver:
        waiver = first.waiver
        return f"waived: {waiver.get('ticket')} until {waiver.get('expires')} ({waiver.get('reason')})"
    if item.status == "not_applicable":
        return "not applicable"
    parts = [
        f"{label}: {_text(value)}"[:400]
        for label, value in (("observed", first.observed), ("expected", first.expected))
        if value not in (None, "")
    ]
    return "; ".join(parts) or item.status


def render_junit(data: ReportData) -> str:
    total: dict[str, int] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    root = ET.Element("testsuites", name=f"hisguard run {data.run.id} ({data.run.kind})")
    for host in sorted(data.hosts, key=lambda h: h.name):
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        suite = ET.SubElement(root, "testsuite", name=host.name)
        if data.run.started:
            suite.set("timestamp", data.run.started)
        for item in sorted(host.controls, key=lambda c: c.control):
            counts["tests"] += 1
            name = item.control if item.title == item.control else f"{item.control} {item.title}"
            case = ET.SubElement(suite, "testcase", name=name, classname=f"hisguard.{host.name}")
            details = _details(item.results)
            if item.status == "fail":
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=_summary(item), type="fail").text = details
            elif item.status == "error":
                counts["errors"] += 1
                ET.SubElement(case, "error", message=_summary(item), type="error").text = details
            elif item.status in ("waived", "not_applicable"):
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=_summary(item))
                ET.SubElement(case, "system-out").text = details
            else:
                ET.SubElement(case, "system-out").text = details
        stats = data.run.stats.get(host.name) or {}
        if not host.controls and (stats.get("unreachable") or stats.get("failures")):
            # A host that produced no results must not look green in CI.
            counts["tests"] += 1
            counts["errors"] += 1
            case = ET.SubElement(suite, "testcase", name="host reachable", classname=f"hisguard.{host.name}")
            problem = "unreachable" if stats.get("unreachable") else "failed before reporting results"
            ET.SubElement(case, "error", message=f"{host.name}: {problem}", type="host").text = _text(stats)
        for key, value in counts.items():
            suite.set(key, str(value))
            total[key] += value
    for key, value in total.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
