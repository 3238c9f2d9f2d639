"""What a report shows, computed once from the store and the catalog; the renderers only lay it out."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hisguard.report.registers import RegisterView, build_registers
from hisguard.results import SEVERITY, STATUSES, Result, combine_statuses, compliance_percent, group_results
from hisguard.store import Run, Store, TrendPoint

NOT_APPLICABLE = "not_applicable"
NEEDS_ATTESTATION = "needs_attestation"
NOT_RUN = "not_run"
UNKNOWN_CONTROL = "unknown_control"


@dataclass
class ControlResult:
    """All results of one control on one host, and their combined status."""

    control: str
    title: str
    status: str
    results: list[Result]
    in_catalog: bool = True


@dataclass
class HostView:
    name: str
    status: str
    counts: Counter
    controls: list[ControlResult]
    unreachable: bool = False  # ansible could not reach it (or it failed) before any result


@dataclass
class ArticleRow:
    id: str
    title: str
    implementation: str | None
    checked_by: str | None
    status: str  # a result status, needs_attestation, not_run or unknown_control
    counts: Counter
    needs_attestation: bool
    in_catalog: bool = True
    part: str | None = None  # "P1"
    chapter: str | None = None  # "P1.3"
    evidence: str | None = None  # what proves it (what a person attests, for manual articles)


@dataclass
class WaiverUse:
    waiver: dict[str, Any]
    hosts: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    lang: str
    generated: str
    run: Run
    results: list[Result]
    counts: Counter
    compliance: float | None
    hosts: list[HostView]
    articles: list[ArticleRow]
    waivers: list[WaiverUse]
    expired_waivers: list[WaiverUse]
    trend: list[TrendPoint]
    headings: dict[str, str] = field(default_factory=dict)  # "P1", "P1.3" -> title in lang
    organization: str | None = None
    registers: RegisterView | None = None  # equipment register, IP sweep (P2.4.1, P2.6.5, P1.3.5)


def _natural_key(control_id: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", control_id)]


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    value = getattr(obj, name, default)
    return value() if callable(value) and name != "title" else value


def catalog_control(catalog: Any, control_id: str) -> Any:
    """The catalog's control or None (Catalog.get raises for unknown IDs; results may carry any ID)."""
    controls = getattr(catalog, "controls", None) or {}
    return controls.get(control_id)


def control_title(catalog: Any, control_id: str, lang: str) -> str | None:
    control = catalog_control(catalog, control_id)
    if control is None:
        return None
    title = getattr(control, "title", None)
    if callable(title):
        return title(lang)
    return getattr(control, f"title_{lang}", None) or getattr(control, "title_zh", None) or control_id


def _join(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def _waiver_key(waiver: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(waiver.get(key, "")) for key in ("control", "ticket", "expires", "reason"))


def _collect_waivers(pairs: list[tuple[dict[str, Any], str]]) -> list[WaiverUse]:
    uses: dict[tuple[str, ...], WaiverUse] = {}
    for waiver, host in pairs:
        use = uses.setdefault(_waiver_key(waiver), WaiverUse(waiver=waiver))
        if host and host not in use.hosts:
            use.hosts.append(host)
    for use in uses.values():
        use.hosts.sort()
    return sorted(uses.values(), key=lambda use: (_natural_key(str(use.waiver.get("control", ""))),))


def _headings(catalog: Any, controls: dict[str, Any], lang: str) -> dict[str, str]:
    heading = getattr(catalog, "heading", None)
    if heading is None:
        return {}
    found: dict[str, str] = {}
    for control in controls.values():
        for key in (_part_id(control), getattr(control, "chapter", None)):
            if key and key not in found:
                try:
                    found[key] = heading(key, lang)
                except Exception:  # a heading the catalog lacks: show the ID alone
                    found[key] = ""
    return found


def _part_id(control: Any) -> str | None:
    part = getattr(control, "part", None)
    if part in (None, ""):
        return None
    return part if str(part).startswith("P") else f"P{part}"


def build(
    store: Store,
    run_id: int | None,
    lang: str,
    catalog: Any,
    trend_limit: int = 20,
    organization: str | None = None,
) -> ReportData:
    """Everything a report shows. organization (hospital|agency): list only the articles for it."""
    run = store.get_run(run_id)
    results = store.results(run.id)
    catalog_controls: dict[str, Any] = dict(getattr(catalog, "controls", {}) or {})
    if organization:
        catalog_controls = {
            key: control
            for key, control in catalog_controls.items()
            if organization in (getattr(control, "organizations", None) or (organization,))
        }
    order = {control_id: index for index, control_id in enumerate(catalog_controls)}

    def sort_key(control_id: str) -> tuple[int, list[Any]]:
        return (order.get(control_id, len(order)), _natural_key(control_id))

    def title_of(control_id: str) -> str:
        return control_title(catalog, control_id, lang) or control_id

    # Per host: one ControlResult per control, failures first.
    grouped = group_results(results)
    per_host: dict[str, list[ControlResult]] = {}
    for (host, control_id), group in grouped.items():
        per_host.setdefault(host, []).append(
            ControlResult(
                control=control_id,
                title=title_of(control_id),
                status=combine_statuses([r.status for r in group]),
                results=sorted(group, key=lambda r: SEVERITY.index(r.status)),
                in_catalog=control_id in catalog_controls,
            )
        )
    hosts: list[HostView] = []
    for name in sorted(set(run.hosts) | set(per_host)):
        controls = sorted(
            per_host.get(name, []), key=lambda c: (SEVERITY.index(c.status), sort_key(c.control))
        )
        counts = Counter(c.status for c in controls)
        stats = run.stats.get(name) or {}
        unreachable = not controls and bool(stats.get("unreachable") or stats.get("failures"))
        hosts.append(
            HostView(
                name=name,
                status=combine_statuses(counts) if controls else ("error" if unreachable else NOT_APPLICABLE),
                counts=counts,
                controls=controls,
                unreachable=unreachable,
            )
        )
    hosts.sort(
        key=lambda h: (-h.counts["fail"], -(h.counts["error"] + h.unreachable), -h.counts["waived"], h.name)
    )

    # Per article: every catalog control, then any reported ID the catalog does not know.
    per_control: dict[str, Counter] = {}
    for (_host, control_id), group in grouped.items():
        per_control.setdefault(control_id, Counter())[combine_statuses([r.status for r in group])] += 1
    articles: list[ArticleRow] = []
    for control_id, control in catalog_controls.items():
        counts = per_control.get(control_id, Counter())
        attest = bool(_attr(control, "needs_attestation", False))
        evidence = getattr(control, "evidence", None)
        evidence = evidence(lang) if callable(evidence) else getattr(control, f"evidence_{lang}", None)
        status = combine_statuses(counts) if counts else (NEEDS_ATTESTATION if attest else NOT_RUN)
        articles.append(
            ArticleRow(
                id=control_id,
                title=title_of(control_id),
                implementation=_join(_attr(control, "implementation")),
                checked_by=_join(_attr(control, "checked_by")),
                status=status,
                counts=counts,
                needs_attestation=attest,
                part=_part_id(control),
                chapter=getattr(control, "chapter", None),
                evidence=evidence,
            )
        )
    for control_id in sorted(set(per_control) - set(catalog_controls), key=_natural_key):
        articles.append(
            ArticleRow(
                id=control_id,
                title=control_id,
                implementation=None,
                checked_by=None,
                status=UNKNOWN_CONTROL,
                counts=per_control[control_id],
                needs_attestation=False,
                in_catalog=False,
            )
        )

    counts = Counter(c.status for host in hosts for c in host.controls)
    waivers = _collect_waivers([(r.waiver, r.host) for r in results if r.waiver])
    expired_pairs = [(r.expired_waiver, r.host) for r in results if r.expired_waiver]
    for item in run.expired_waivers:  # as the callback listed them
        waiver = {k: v for k, v in item.items() if k != "hosts_affected"}
        expired_pairs.extend((waiver, host) for host in item.get("hosts_affected") or [""])
    return ReportData(
        lang=lang,
        generated=datetime.now(UTC).replace(microsecond=0).isoformat(),
        run=run,
        results=results,
        counts=Counter({status: counts[status] for status in STATUSES}),
        compliance=compliance_percent(counts),
        hosts=hosts,
        articles=articles,
        waivers=waivers,
        expired_waivers=_collect_waivers(expired_pairs),
        trend=store.trend(limit=trend_limit, kind=run.kind, until=run.id),
        headings=_headings(catalog, catalog_controls, lang),
        organization=organization,
        registers=build_registers(results, lang),
    )
