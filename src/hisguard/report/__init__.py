"""Reports of a stored run: HTML for people (self-contained, printable), JSON for machines, JUnit XML for CI.

render(store, run_id, fmt, lang, catalog) returns the report as text (UTF-8 when written).
"""

from __future__ import annotations

from typing import Any

from hisguard.report import model
from hisguard.report.i18n import DEFAULT_LANG, LANGS, check_lang
from hisguard.store import Store

FORMATS = ("html", "json", "junit")
EXTENSIONS = {"html": "html", "json": "json", "junit": "xml"}

__all__ = ["DEFAULT_LANG", "EXTENSIONS", "FORMATS", "LANGS", "render"]


def render(
    store: Store,
    run_id: int | None,
    fmt: str,
    lang: str,
    catalog: Any,
    organization: str | None = None,
) -> str:
    """The report of run `run_id` (None: the latest) in format `fmt` and language `lang`.

    catalog: a hisguard.catalog.Catalog (anything with `.controls`, a dict of controls), so every
    article is listed, including those no check covers. organization (hospital|agency): list only
    the articles that apply to it (Part 3 is for hospitals, Part 4 for agencies); None lists all.
    """
    check_lang(lang)
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    data = model.build(store, run_id, lang, catalog, organization=organization)
    if fmt == "html":
        from hisguard.report.html import render_html

        return render_html(data)
    if fmt == "json":
        from hisguard.report.jsonreport import render_json

        return render_json(data)
    from hisguard.report.junit import render_junit

    return render_junit(data)
