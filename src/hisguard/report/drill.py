"""The restore-drill evidence report (P3.8.5): one drill's record, per host RPO/RTO against the targets,
every step, the checksum and database checks, the cleanup, sign-off fields, and the drill history.

HTML (self-contained, printable, zh default, en) for the backup owner and the inspector; JSON
(schema hisguard.drill-report/1) for machines.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from markupsafe import Markup

from hisguard.report.i18n import check_lang, translator

FORMATS = ("html", "json")
EXTENSIONS = {"html": "html", "json": "json"}
REPORT_SCHEMA = "hisguard.drill-report/1"
HISTORY_LIMIT = 12


def fmt_seconds(value: Any) -> str:
    """12.3 s, 4.5 min, 2.1 h; '–' for none."""
    if value is None:
        return "–"
    seconds = float(value)
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def fmt_bytes(value: Any) -> str:
    if value is None:
        return "–"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - loop returns


def report_dict(record: dict[str, Any], history: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    return {
        "schema": REPORT_SCHEMA,
        "lang": lang,
        "generated": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "drill": record,
        "history": [
            {
                "id": item.get("id"),
                "ident": item.get("ident"),
                "started": item.get("started"),
                "status": item.get("status"),
                "operator": item.get("operator"),
                "hosts": [
                    {
                        key: host.get(key)
                        for key in ("host", "status", "snapshot_id", "rpo_seconds", "rto_seconds", "failure")
                    }
                    for host in item.get("hosts", [])
                ],
            }
            for item in history
        ],
    }


def render_drill_record(record: dict[str, Any], history: list[dict[str, Any]], fmt: str, lang: str) -> str:
    """The report of one drill record (as hisguard.drill builds it and the store keeps it)."""
    check_lang(lang)
    if fmt not in FORMATS:
        raise ValueError(f"unknown drill report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    data = report_dict(record, history, lang)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    return render_html(data)


def render_drill(store: Any, drill: int | str | None, fmt: str, lang: str) -> tuple[dict[str, Any], str]:
    """The stored drill `drill` (id, ident, None for the latest) and its report text."""
    record = store.get_drill(drill)
    history = [item for item in store.drills(limit=HISTORY_LIMIT)]
    return record, render_drill_record(record, history, fmt, lang)


def render_html(data: dict[str, Any]) -> str:
    from hisguard.report.html import _environment, fmt_time, fmt_value

    t = translator(data["lang"])
    css = resources.files("hisguard.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    env = _environment()
    env.filters["duration"] = fmt_seconds
    env.filters["size"] = fmt_bytes
    env.filters["time"] = fmt_time
    env.filters["value"] = fmt_value
    template = env.get_template("drill.html.j2")
    return template.render(d=data, r=data["drill"], t=t, css=Markup(css))
