"""The HTML report: one self-contained file (inline CSS, inline SVG chart, no external assets)."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape

import jinja2
from markupsafe import Markup

from hisguard.report.i18n import translator
from hisguard.report.model import ReportData
from hisguard.store import TrendPoint

CHART_WIDTH = 760
CHART_HEIGHT = 240
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 48, 16, 16, 40


def fmt_time(value: str | None) -> str:
    """ISO 8601 (UTC) -> local wall-clock time with its offset; unparsable values shown as they are."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone()
        return moment.strftime("%Y-%m-%d %H:%M:%S %z").rstrip()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def fmt_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def fmt_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def trend_svg(points: list[TrendPoint], current: int, label: str, empty: str) -> str:
    """An inline SVG line chart of compliance % per run (0-100), the current run highlighted."""
    width, height = CHART_WIDTH, CHART_HEIGHT
    inner_w = width - _PAD_LEFT - _PAD_RIGHT
    inner_h = height - _PAD_TOP - _PAD_BOTTOM
    parts = [
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for tick in (0, 25, 50, 75, 100):
        y = _PAD_TOP + inner_h * (1 - tick / 100)
        parts.append(
            f'<line class="grid" x1="{_PAD_LEFT}" y1="{y:.1f}" x2="{width - _PAD_RIGHT}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{_PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}%</text>'
        )
    drawn = [p for p in points if p.compliance is not None]
    if not drawn:
        parts.append(
            f'<text class="empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">'
            f"{escape(empty)}</text></svg>"
        )
        return "".join(parts)
    inset = 28  # keep the first and last value labels clear of the axis and the edge
    step = (inner_w - 2 * inset) / max(len(points) - 1, 1)
    coords = []
    for index, point in enumerate(points):
        x = _PAD_LEFT + inset + (step * index if len(points) > 1 else (inner_w - 2 * inset) / 2)
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{height - _PAD_BOTTOM + 18}" text-anchor="middle">'
            f"#{point.run_id}</text>"
        )
        if point.compliance is None:
            continue
        y = _PAD_TOP + inner_h * (1 - point.compliance / 100)
        coords.append((x, y, point))
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
        parts.append(f'<polyline class="line" points="{path}"/>')
    for x, y, point in coords:
        css = "point current" if point.run_id == current else "point"
        parts.append(
            f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="{6 if point.run_id == current else 4}">'
            f"<title>#{point.run_id} {escape(fmt_time(point.started))}: {point.compliance:.1f}%</title>"
            f"</circle>"
            f'<text class="value" x="{x:.1f}" y="{y - 10:.1f}" text-anchor="middle">'
            f"{point.compliance:.0f}%</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hisguard.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = fmt_time
    env.filters["value"] = fmt_value
    env.filters["percent"] = fmt_percent
    return env


def render_html(data: ReportData) -> str:
    t = translator(data.lang)
    css = resources.files("hisguard.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    chart = trend_svg(data.trend, data.run.id, t("trend_aria"), t("trend_empty"))
    template = _environment().get_template("report.html.j2")
    return template.render(
        d=data,
        t=t,
        css=Markup(css),
        chart=Markup(chart),
        statuses=("fail", "error", "waived", "pass", "not_applicable"),
    )
