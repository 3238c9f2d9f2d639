"""`hisguard controls`: list, show and document the control catalog."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path

from hisguard import paths
from hisguard.catalog import APPLIES, IMPLEMENTATIONS, LANGS, Catalog, Control, load_catalog, render_markdown

LABELS = {
    "zh": {
        "id": "编号",
        "implementation": "实现方式",
        "applies": "适用对象",
        "organizations": "适用机构",
        "checked_by": "检查方式",
        "title": "标题",
        "chapter": "章节",
        "evidence": "证据",
        "shared": "共用条文",
        "text": "原文",
        "count": "共 {n} 项控制",
    },
    "en": {
        "id": "ID",
        "implementation": "IMPLEMENTATION",
        "applies": "APPLIES TO",
        "organizations": "ORGANIZATIONS",
        "checked_by": "CHECKED BY",
        "title": "TITLE",
        "chapter": "CHAPTER",
        "evidence": "EVIDENCE",
        "shared": "SHARED WITH",
        "text": "TEXT (zh)",
        "count": "{n} controls",
    },
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "controls",
        help="the control catalog: one control per article of the regulation",
        description="List, show and document the controls of controls/catalog.yml.",
    )
    actions = parser.add_subparsers(dest="controls_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list controls, optionally filtered")
    listing.add_argument("--implementation", choices=IMPLEMENTATIONS, help="only controls met this way")
    listing.add_argument("--applies", choices=APPLIES, help="only controls that apply to this kind of target")
    listing.add_argument("--lang", choices=LANGS, default="zh", help="language of titles (default zh)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=cmd_list)

    show = actions.add_parser("show", help="show one control, with the regulation's text")
    show.add_argument("control_id", metavar="ID", help="a control ID, e.g. P1.3.6")
    show.add_argument(
        "--lang", choices=LANGS, default="zh", help="language of titles and labels (default zh)"
    )
    show.set_defaults(func=cmd_show)

    doc = actions.add_parser("doc", help="write docs/controls.md from the catalog")
    doc.add_argument("--output", type=Path, help="where to write (default docs/controls.md)")
    doc.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is stale")
    doc.set_defaults(func=cmd_doc)


def cmd_list(args: argparse.Namespace) -> int:
    controls = load_catalog().select(implementation=args.implementation, applies=args.applies)
    if args.json:
        print(json.dumps([c.to_dict() for c in controls], ensure_ascii=False, indent=2))
        return 0
    labels = LABELS[args.lang]
    header = [labels[key] for key in ("id", "implementation", "applies", "checked_by", "title")]
    rows = [
        [c.id, c.implementation, ",".join(c.applies_to), ",".join(c.checked_by) or "-", c.title(args.lang)]
        for c in controls
    ]
    print(format_table(header, rows))
    print(labels["count"].format(n=len(controls)))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    print(describe(catalog, catalog.get(args.control_id), args.lang))
    return 0


def cmd_doc(args: argparse.Namespace) -> int:
    output = args.output or paths.ROOT / "docs" / "controls.md"
    rendered = render_markdown(load_catalog())
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != rendered:
            print(f"hisguard: {output} is stale: run `hisguard controls doc` and commit it", file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(rendered, encoding="utf-8")
    print(f"wrote {output}")
    return 0


def describe(catalog: Catalog, control: Control, lang: str) -> str:
    """The `show` view: label/value lines, then the Chinese text indented."""
    labels = LABELS[lang]
    other = "en" if lang == "zh" else "zh"
    fields = [
        (labels["title"], f"{control.title(lang)} ({control.title(other)})"),
        (labels["chapter"], f"{control.chapter} {catalog.heading(control.chapter, lang)}"),
        (labels["implementation"], control.implementation),
        (labels["applies"], ", ".join(control.applies_to)),
        (labels["organizations"], ", ".join(control.organizations)),
        (labels["checked_by"], ", ".join(control.checked_by) or "-"),
        (labels["evidence"], control.evidence(lang)),
    ]
    if control.counterparts:
        fields.append((labels["shared"], ", ".join(control.counterparts)))
    width = max(display_width(label) for label, _ in fields)
    lines = [control.id]
    lines += [f"  {pad(label, width)}  {value}" for label, value in fields]
    lines.append(f"  {labels['text']}:")
    lines += [f"    {line}" for line in control.text_zh.split("\n")]
    return "\n".join(lines)


def display_width(text: str) -> int:
    """Terminal columns: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Columns aligned by display width; the last column is not padded."""
    table = [header, *rows]
    widths = [max(display_width(row[i]) for row in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(pad(cell, width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in table
    )
