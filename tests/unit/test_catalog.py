"""The control catalog: the real file against the regulation's text, and each validation error."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml

from hisguard import paths
from hisguard.catalog import (
    APPLIES,
    IMPLEMENTATIONS,
    Catalog,
    CatalogError,
    load_catalog,
    parse_id,
    render_markdown,
)
from hisguard.errors import UserError

REGULATION_NAME = "health-it-management-rules.zh.txt"
NUMERALS = "零一二三四五六七八九十"
HEADING_RE = re.compile(r"第([一二三四五六七八九十0-9]+)(部分|章|条)\s*(.*)")
ITEM_RE = re.compile(r"(?:（([0-9]+)）|([0-9]+)、)")


def regulation_file() -> Path:
    """../shared/regulation/ beside the checkout (every developer and CI has it); env overrides."""
    override = os.environ.get("HISGUARD_REGULATION")
    return Path(override) if override else paths.ROOT.parent / "shared" / "regulation" / REGULATION_NAME


def number(text: str) -> int:
    """一 .. 十五, or digits (the regulation mixes 第5条 and 第五条, 第8章 and 第八章)."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        return NUMERALS.index(text)
    tens, _, units = text.partition("十")
    return (NUMERALS.index(tens) if tens else 1) * 10 + (NUMERALS.index(units) if units else 0)


def parse_regulation(text: str) -> tuple[dict[str, str], dict[str, list[str]], list[tuple[str, str]]]:
    """(headings {P1: title, P1.3: title}, units {ID: lines}, numbered article lines [(ID, line)])."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("第一部分"))  # 引言 is no control
    headings: dict[str, str] = {}
    units: dict[str, list[str]] = {}
    articles: list[tuple[str, str]] = []
    part = chapter = article = None
    for line in lines[start:]:
        match = HEADING_RE.match(line)
        kind = match.group(2) if match else None
        if kind == "部分":
            part, chapter, article = number(match.group(1)), 0, None
            headings[f"P{part}"] = match.group(3)
        elif kind == "章":
            chapter, article = number(match.group(1)), None
            headings[f"P{part}.{chapter}"] = match.group(3)
        elif kind == "条":
            article = number(match.group(1))
            unit = f"P{part}.{chapter}.{article}"
            articles.append((unit, line))
            units.setdefault(unit, []).append(match.group(3))
        else:
            unit = f"P{part}.{chapter}" + (f".{article}" if article else "")
            units.setdefault(unit, []).append(line)
    return headings, units, articles


def norm(text: str) -> str:
    """Compare texts with whitespace removed, nothing else."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def regulation():
    path = regulation_file()
    if not path.is_file():
        pytest.fail(f"the regulation text is missing at {path} (set HISGUARD_REGULATION to its path)")
    return parse_regulation(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# -- the real catalog -----------------------------------------------------------------------------


def test_real_catalog_loads_in_regulation_order(catalog):
    ids = list(catalog.controls)
    assert ids[0] == "P1.0"
    assert ids[-1] == "P4.9.2"
    assert ids == sorted(ids, key=parse_id)
    assert set(catalog.parts) == {"P1", "P2", "P3", "P4"}
    assert {c.part for c in catalog.controls.values()} == {1, 2, 3, 4}


def test_removable_media_control(catalog):
    control = catalog.get("P1.3.6")
    assert control.chapter == "P1.3"
    assert control.implementation == "automated"
    assert "role:removable_media" in control.checked_by
    assert control.applies_to == ("workstation",)
    assert control.organizations == ("hospital", "agency")
    assert control.text_zh.startswith("为了防止计算机病毒的侵入")
    assert not control.needs_attestation
    assert control.title("en") == control.title_en
    assert control.title("zh") == control.title_zh


def test_every_field_is_filled(catalog):
    for control in catalog.controls.values():
        assert control.implementation in IMPLEMENTATIONS
        assert control.applies_to and set(control.applies_to) <= set(APPLIES)
        assert control.title_zh and control.title_en and control.evidence_zh and control.evidence_en
        assert "{" not in control.title_en + control.text_zh + control.evidence_en, control.id
        assert control.needs_attestation == (control.implementation in ("manual", "organizational"))
        if not control.needs_attestation:
            assert control.checked_by, control.id


def test_organizations_follow_the_part(catalog):
    expected = {1: ("hospital", "agency"), 2: ("hospital", "agency"), 3: ("hospital",), 4: ("agency",)}
    for control in catalog.controls.values():
        assert control.organizations == expected[control.part], control.id


def test_every_numbered_article_maps_to_an_id(catalog, regulation):
    _headings, _units, articles = regulation
    assert len(articles) > 100
    for unit, line in articles:
        assert unit in catalog.controls or unit in catalog.articles, (
            f"{line[:30]} -> {unit} is not in the catalog"
        )


def test_catalog_holds_every_sentence_verbatim(catalog, regulation):
    """Each unit of the regulation is one control's text (or an article heading plus its items), and
    every control is such a unit: nothing missing, nothing invented, nothing written twice."""
    headings, units, _articles = regulation
    for heading_id, title in headings.items():
        table = catalog.parts if "." not in heading_id else catalog.chapters
        assert table[heading_id]["zh"] == title, heading_id
    accounted = []
    for unit, lines in units.items():
        if unit in catalog.articles:
            assert norm(catalog.articles[unit]["zh"]) == norm(lines[0]), unit
            for line in lines[1:]:
                match = ITEM_RE.match(line)
                assert match, f"{unit}: {line[:20]} is not a numbered item"
                item = f"{unit}.{match.group(1) or match.group(2)}"
                assert item in catalog.controls, f"{item} is not in the catalog"
                assert norm(catalog.controls[item].text_zh) == norm(line), item
                accounted.append(item)
        else:
            assert unit in catalog.controls, f"{unit} ({lines[0][:20]}) is not in the catalog"
            assert norm(catalog.controls[unit].text_zh) == norm("".join(lines)), unit
            accounted.append(unit)
    assert sorted(accounted, key=parse_id) == list(catalog.controls)
    assert set(catalog.articles) <= set(units)


@pytest.mark.parametrize(
    "control_id",
    ["P4.1.1", "P4.1.3", "P4.2.1", "P4.3", "P4.4", "P4.5.1", "P4.5.2", "P4.6.2", "P4.7.2", "P4.8.2"],
)
def test_expanded_part4_text_equals_the_regulation(catalog, regulation, control_id):
    _headings, units, _articles = regulation
    assert norm(catalog.get(control_id).text_zh) == norm("".join(units[control_id]))


def test_part4_is_not_written_twice(catalog):
    """Every Part 4 control comes from a shared entry: no entry in the file has a plain P4 id."""
    document = yaml.safe_load(catalog.path.read_text(encoding="utf-8"))
    plain_ids = [entry["id"] for entry in document["controls"] if isinstance(entry["id"], str)]
    assert not [i for i in plain_ids if i.startswith("P4.")]
    assert catalog.get("P4.4").counterparts == ("P3.4",)
    assert catalog.get("P3.6.7.6").counterparts == ("P4.6.2",)
    assert "价表目录" in catalog.get("P3.4").text_zh
    assert "价表目录" not in catalog.get("P4.4").text_zh
    assert "30分钟" not in catalog.get("P4.5.2").text_zh


def test_docs_controls_md_is_not_stale(catalog):
    doc = paths.ROOT / "docs" / "controls.md"
    assert doc.is_file(), "docs/controls.md is missing: run `hisguard controls doc`"
    assert doc.read_text(encoding="utf-8") == render_markdown(catalog), (
        "docs/controls.md is stale: run `hisguard controls doc`"
    )


# -- queries --------------------------------------------------------------------------------------


def test_select_filters(catalog):
    automated = catalog.select(implementation="automated")
    assert "P1.3.6" in [c.id for c in automated]
    assert all(c.implementation == "automated" for c in automated)
    workstation = catalog.select(applies="workstation")
    assert workstation and all("workstation" in c.applies_to for c in workstation)
    both = catalog.select(implementation="manual", applies="server")
    assert both and all(c.implementation == "manual" and "server" in c.applies_to for c in both)
    assert len(catalog.select()) == len(catalog.controls)
    with pytest.raises(CatalogError, match="unknown implementation"):
        catalog.select(implementation="sometimes")
    with pytest.raises(CatalogError, match="unknown applicability"):
        catalog.select(applies="desktop")


def test_get(catalog):
    assert catalog.get("p1.3.6").id == "P1.3.6"
    with pytest.raises(CatalogError, match=r"unknown control ID P9\.9 \(see `hisguard controls list`\)"):
        catalog.get("P9.9")
    with pytest.raises(CatalogError, match=r"article heading, its controls are P3\.6\.2\.1 to P3\.6\.2\.5"):
        catalog.get("P3.6.2")


# -- validation, on temporary catalogs --------------------------------------------------------------


def control(control_id, text="本管理规定适用于单位内所有使用计算机的科室。", **fields):
    entry = {
        "id": control_id,
        "title": {"zh": "适用范围", "en": "Scope"},
        "text_zh": text,
        "applies_to": ["site"],
        "implementation": "organizational",
        "checked_by": [],
        "evidence": {"zh": "制度文本", "en": "The policy"},
    }
    entry.update(fields)
    return entry


def minimal() -> dict:
    return {
        "schema_version": 1,
        "parts": {
            "P1": {
                "zh": "信息安全制度",
                "en": "Information security",
                "organizations": ["hospital", "agency"],
            },
            "P3": {
                "zh": "应急预案（医院）",
                "en": "Emergency plan (hospitals)",
                "organizations": ["hospital"],
            },
            "P4": {
                "zh": "应急预案（卫生行政部门）",
                "en": "Emergency plan (agencies)",
                "organizations": ["agency"],
            },
        },
        "chapters": [
            {"id": "P1.1", "zh": "总则", "en": "General provisions"},
            {"id": {"hospital": "P3.1", "agency": "P4.1"}, "zh": "应急预案总则", "en": "General provisions"},
        ],
        "articles": [],
        "controls": [
            control("P1.1.1"),
            control({"hospital": "P3.1.1", "agency": "P4.1.1"}, text="适用于{医院|厅（局）}计算机网络{。|}"),
        ],
    }


def write(tmp_path: Path, document: dict | str) -> Path:
    path = tmp_path / "controls" / "catalog.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        document
        if isinstance(document, str)
        else yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    )
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, document: dict | str) -> str:
    write(tmp_path, document)
    with pytest.raises(CatalogError) as info:
        load_catalog(root=tmp_path)
    assert isinstance(info.value, UserError) and info.value.exit_code == 2
    assert info.value.message.startswith("controls/catalog.yml: "), info.value.message
    return info.value.message


def test_minimal_catalog_expands_shared_entries(tmp_path):
    write(tmp_path, minimal())
    catalog = load_catalog(root=tmp_path)
    assert list(catalog.controls) == ["P1.1.1", "P3.1.1", "P4.1.1"]
    hospital, agency = catalog.get("P3.1.1"), catalog.get("P4.1.1")
    assert hospital.text_zh == "适用于医院计算机网络。"
    assert agency.text_zh == "适用于厅（局）计算机网络"
    assert (hospital.organizations, agency.organizations) == (("hospital",), ("agency",))
    assert (hospital.counterparts, agency.counterparts) == (("P4.1.1",), ("P3.1.1",))
    assert set(catalog.chapters) == {"P1.1", "P3.1", "P4.1"}
    assert catalog.get("P1.1.1").organizations == ("hospital", "agency")


def test_checked_by_names_that_exist_pass(tmp_path):
    (tmp_path / "roles" / "removable_media" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "removable_media" / "tasks" / "main.yml").write_text("---\n")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "restore_drill.yml").write_text("---\n")
    document = minimal()
    document["controls"][0].update(
        implementation="partial", checked_by=["role:removable_media", "playbook:restore_drill.yml"]
    )
    write(tmp_path, document)
    assert load_catalog(root=tmp_path).get("P1.1.1").checked_by == (
        "role:removable_media",
        "playbook:restore_drill.yml",
    )


def _set(path: str, value):
    """A mutation of minimal(): controls.0.implementation = value."""

    def mutate(document):
        *parents, last = path.split(".")
        target = document
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return mutate


_DELETE = object()


def _append(section: str, entry):
    return lambda document: document[section].append(entry)


INVALID = [
    ("duplicate ID", _append("controls", control("P1.1.1")), "control P1.1.1: duplicate ID P1.1.1"),
    ("duplicate with a shared entry", _append("controls", control("P4.1.1")), "duplicate ID P4.1.1"),
    ("duplicate chapter", _append("chapters", {"id": "P1.1", "zh": "总则", "en": "x"}), "duplicate ID P1.1"),
    ("missing field", _set("controls.0.evidence", _DELETE), "control P1.1.1: missing field evidence"),
    (
        "missing language",
        _set("controls.0.title", {"zh": "适用范围"}),
        "control P1.1.1: title: missing field en",
    ),
    ("unknown field", _set("controls.0.note", "x"), "control P1.1.1: unknown field note"),
    (
        "bad implementation",
        _set("controls.0.implementation", "sometimes"),
        "implementation 'sometimes' is not",
    ),
    ("bad applies_to", _set("controls.0.applies_to", ["desktop"]), "applies_to: 'desktop' is not one of"),
    ("empty applies_to", _set("controls.0.applies_to", []), "applies_to must be a non-empty list"),
    ("bad ID", _set("controls.0.id", "P1.3.06"), "bad ID 'P1.3.06'"),
    ("ID without P", _set("controls.0.id", "1.1.1"), "bad ID '1.1.1'"),
    ("unknown part", _set("controls.0.id", "P2.1.1"), "part P2 of P2.1.1 is not in `parts`"),
    ("unknown chapter", _set("controls.0.id", "P1.2.1"), "control P1.2.1: chapter P1.2 is not in `chapters`"),
    (
        "missing role",
        _set("controls.0.checked_by", ["role:nope"]),
        "control P1.1.1: checked_by: role nope does not exist",
    ),
    ("missing playbook", _set("controls.0.checked_by", ["playbook:x.yml"]), "playbook x.yml does not exist"),
    ("bad checker", _set("controls.0.checked_by", ["nope"]), "'nope' is not role:<name> or playbook:<file>"),
    ("automated unchecked", _set("controls.0.implementation", "automated"), "automated needs checked_by"),
    ("empty text", _set("controls.0.text_zh", " "), "text_zh must be non-empty text"),
    (
        "alternative in a plain entry",
        _set("controls.0.text_zh", "适用于{医院|厅（局）}"),
        "alternatives need id: {hospital",
    ),
    ("unbalanced alternative", _set("controls.1.text_zh", "适用于{医院|厅（局）"), "unbalanced or nested"),
    (
        "shared id swapped",
        _set("controls.1.id", {"hospital": "P4.1.1", "agency": "P3.1.1"}),
        "not for hospital",
    ),
    ("shared id one side", _set("controls.1.id", {"hospital": "P3.1.1"}), "id must be an ID"),
    (
        "item without heading",
        _append("controls", control("P1.1.1.1")),
        "needs its article P1.1.1 in `articles`",
    ),
    (
        "empty chapter",
        _append("chapters", {"id": "P1.2", "zh": "基本制度", "en": "x"}),
        "chapter P1.2: has no controls",
    ),
    ("chapter ID level", _append("chapters", {"id": "P1.2.1", "zh": "x", "en": "x"}), "is not a chapter ID"),
    ("unknown top-level key", _set("extra", 1), "top level: unknown field extra"),
    ("schema version", _set("schema_version", 2), "schema_version: is 2"),
    ("bad organizations", _set("parts.P1.organizations", ["clinic"]), "part P1: organizations: 'clinic'"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_invalid_catalog(tmp_path, mutate, expected):
    document = copy.deepcopy(minimal())
    mutate(document)
    assert expected in load_error(tmp_path, document)


def test_yaml_syntax_error(tmp_path):
    message = load_error(tmp_path, "schema_version: 1\ncontrols: [\n  - id: P1.1.1\n")
    assert "YAML syntax error at line" in message


def test_key_written_twice(tmp_path):
    text = yaml.safe_dump(minimal(), allow_unicode=True, sort_keys=False)
    text = text.replace(
        "  implementation: organizational\n",
        "  implementation: organizational\n  implementation: manual\n",
        1,
    )
    assert "duplicate key 'implementation'" in load_error(tmp_path, text)


def test_split_article_has_items_and_no_control_of_its_own(tmp_path):
    document = minimal()
    document["articles"].append({"id": "P1.1.2", "zh": "门诊挂号、收费工作协调", "en": "Outpatient billing"})
    assert "article P1.1.2: has no item controls" in load_error(tmp_path, document)
    document["controls"] += [control("P1.1.2.1"), control("P1.1.2")]
    assert "its items are the controls, not the article" in load_error(tmp_path, document)
    document["controls"].pop()
    write(tmp_path, document)
    catalog = load_catalog(root=tmp_path)
    assert "P1.1.2.1" in catalog.controls and "P1.1.2" in catalog.articles


def test_missing_catalog_file(tmp_path):
    with pytest.raises(CatalogError, match="catalog file not found"):
        load_catalog(root=tmp_path)
