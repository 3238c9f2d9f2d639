"""The control catalog: one control per article of the regulation, from controls/catalog.yml.

The catalog file's header explains the IDs, the fields and how Parts 3 (hospital) and 4 (agency)
share their text. This module loads and validates the file, expands the shared entries into one
control per organization, and answers queries. Every problem in the file is a CatalogError that
names the file and the entry.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

import yaml

from hisguard import paths
from hisguard.errors import UserError

IMPLEMENTATIONS = ("automated", "partial", "manual", "organizational")
APPLIES = ("workstation", "server", "network_device", "site")
ORGANIZATIONS = ("hospital", "agency")
LANGS = ("zh", "en")
SCHEMA_VERSION = 1

# P<part>.<chapter>[.<article>[.<item>]]; chapter 0 holds a part's untitled opening paragraph.
ID_RE = re.compile(r"P([1-9])\.(0|[1-9][0-9]*)(?:\.([1-9][0-9]*)(?:\.([1-9][0-9]*))?)?")
# {hospital text|agency text} inside the strings of a shared entry.
ALTERNATIVE_RE = re.compile(r"\{([^{}|]*)\|([^{}|]*)\}")
CHECKER_RE = re.compile(r"(role|playbook):([A-Za-z0-9_][A-Za-z0-9_.-]*)")

TOP_FIELDS = ("schema_version", "parts", "chapters", "articles", "controls")
PART_FIELDS = ("zh", "en", "organizations")
HEADING_FIELDS = ("id", "zh", "en")
CONTROL_FIELDS = ("id", "title", "text_zh", "applies_to", "implementation", "checked_by", "evidence")
ID_LEVELS = {2: "chapter", 3: "article", 4: "item"}


class CatalogError(UserError):
    """The catalog file is broken, or a query names something it does not hold."""


@dataclass(frozen=True)
class Control:
    id: str
    part: int
    chapter: str
    title_zh: str
    title_en: str
    text_zh: str
    applies_to: tuple[str, ...]
    organizations: tuple[str, ...]
    implementation: str
    checked_by: tuple[str, ...]
    evidence_zh: str
    evidence_en: str
    # The same shared entry's IDs for the other organizations (P3.1.1 <-> P4.1.1).
    counterparts: tuple[str, ...] = ()

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if _lang(lang) == "zh" else self.title_en

    def evidence(self, lang: str = "zh") -> str:
        return self.evidence_zh if _lang(lang) == "zh" else self.evidence_en

    @property
    def needs_attestation(self) -> bool:
        """A person must attest it: nothing checks it automatically."""
        return self.implementation in ("manual", "organizational")

    def to_dict(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()
        }


@dataclass
class Catalog:
    controls: dict[str, Control]  # ordered as in the regulation
    parts: dict[str, dict[str, Any]]  # "P1" -> {zh, en, organizations}
    chapters: dict[str, dict[str, str]]  # "P1.3" -> {zh, en}
    articles: dict[str, dict[str, str]] = field(default_factory=dict)  # headings of split articles
    path: Path | None = None

    def get(self, control_id: str) -> Control:
        key = control_id.strip().upper()
        if key in self.controls:
            return self.controls[key]
        hint = ""
        if key in self.articles:
            items = [c for c in self.controls if c.startswith(key + ".")]
            hint = f"; {key} is an article heading, its controls are {items[0]} to {items[-1]}"
        raise CatalogError(f"unknown control ID {control_id} (see `hisguard controls list`){hint}")

    def select(self, implementation: str | None = None, applies: str | None = None) -> list[Control]:
        if implementation is not None and implementation not in IMPLEMENTATIONS:
            raise CatalogError(
                f"unknown implementation {implementation!r}: use one of {', '.join(IMPLEMENTATIONS)}"
            )
        if applies is not None and applies not in APPLIES:
            raise CatalogError(f"unknown applicability {applies!r}: use one of {', '.join(APPLIES)}")
        return [
            c
            for c in self.controls.values()
            if (implementation is None or c.implementation == implementation)
            and (applies is None or applies in c.applies_to)
        ]

    def heading(self, heading_id: str, lang: str = "zh") -> str:
        """The title of a part, chapter or split article."""
        for table in (self.parts, self.chapters, self.articles):
            if heading_id in table:
                return table[heading_id][_lang(lang)]
        raise CatalogError(f"unknown heading {heading_id}")


def parse_id(control_id: str) -> tuple[int, ...] | None:
    """(part, chapter[, article[, item]]) of a well-formed ID, else None. Sorts in regulation order."""
    match = ID_RE.fullmatch(control_id)
    return tuple(int(n) for n in match.groups() if n is not None) if match else None


def load_catalog(path: Path | None = None, root: Path | None = None) -> Catalog:
    """Load and validate the catalog. `root` is the repository that checked_by names must exist in."""
    if path is None:
        path = paths.catalog_file() if root is None else Path(root) / "controls" / "catalog.yml"
    path = Path(path)
    root = Path(root) if root is not None else paths.ROOT
    try:
        stat = path.stat()
    except OSError:
        raise CatalogError(f"{path}: catalog file not found") from None
    return _load_cached(path.resolve(), root.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _load_cached(path: Path, root: Path, _mtime_ns: int, _size: int) -> Catalog:
    try:
        name = str(path.relative_to(root))
    except ValueError:
        name = str(path)
    try:
        with path.open(encoding="utf-8") as stream:
            document = yaml.load(stream, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CatalogError(f"{name}: YAML syntax error{where}: {err.problem or err.context}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise CatalogError(f"{name}: cannot read the catalog: {err}") from None
    catalog = _Reader(name, root).catalog(document)
    catalog.path = path
    return catalog


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (PyYAML keeps the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable; construct_mapping reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Reader:
    """Validates the parsed YAML and builds the Catalog; every failure names the file and the entry."""

    def __init__(self, name: str, root: Path):
        self.name = name
        self.root = root

    def fail(self, where: str, message: str) -> NoReturn:
        raise CatalogError(f"{self.name}: {where}: {message}")

    # -- the document ----------------------------------------------------------------------------

    def catalog(self, document: Any) -> Catalog:
        self.fields(
            document,
            "top level",
            required=("schema_version", "parts", "chapters", "controls"),
            optional=("articles",),
        )
        if document["schema_version"] != SCHEMA_VERSION:
            self.fail(
                "schema_version", f"is {document['schema_version']!r}, this hisguard reads {SCHEMA_VERSION}"
            )
        parts = self.parts(document["parts"])
        chapters = self.headings(document["chapters"], "chapters", 2, parts)
        articles = self.headings(document.get("articles") or [], "articles", 3, parts)
        controls = self.controls(document["controls"], parts)
        self.structure(controls, chapters, articles)
        ordered = dict(sorted(controls.items(), key=lambda item: parse_id(item[0]) or ()))
        return Catalog(controls=ordered, parts=parts, chapters=chapters, articles=articles)

    def parts(self, value: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(value, dict) or not value:
            self.fail("parts", "must be a mapping of part IDs (P1, P2, ...)")
        parts = {}
        for part_id, entry in value.items():
            where = f"part {part_id}"
            if not isinstance(part_id, str) or not re.fullmatch(r"P[1-9]", part_id):
                self.fail(where, "a part ID is P followed by one digit")
            self.fields(entry, where, required=PART_FIELDS)
            organizations = self.choices(entry["organizations"], where, "organizations", ORGANIZATIONS)
            parts[part_id] = {
                "zh": self.text(entry["zh"], where, "zh"),
                "en": self.text(entry["en"], where, "en"),
                "organizations": organizations,
            }
        return parts

    def headings(self, value: Any, section: str, level: int, parts: dict) -> dict[str, dict[str, str]]:
        if not isinstance(value, list):
            self.fail(section, f"must be a list of {{id, zh, en}} {ID_LEVELS[level]} headings")
        headings: dict[str, dict[str, str]] = {}
        for index, entry in enumerate(value):
            where = f"{section}[{index}]"
            self.fields(entry, where, required=HEADING_FIELDS)
            for org, heading_id, _others in self.variants(entry["id"], where, level, parts):
                where = f"{ID_LEVELS[level]} {heading_id}"
                if heading_id in headings:
                    self.fail(where, f"duplicate ID {heading_id}")
                headings[heading_id] = {
                    lang: self.pick(self.text(entry[lang], where, lang), org, where, lang) for lang in LANGS
                }
        return headings

    def controls(self, value: Any, parts: dict) -> dict[str, Control]:
        if not isinstance(value, list) or not value:
            self.fail("controls", "must be a non-empty list of controls")
        controls: dict[str, Control] = {}
        for index, entry in enumerate(value):
            where = f"controls[{index}]"
            if isinstance(entry, dict) and "id" in entry:
                where = f"control {self.describe_id(entry['id'])}"
            self.fields(entry, where, required=CONTROL_FIELDS)
            for control in self.control(entry, where, parts):
                if control.id in controls:
                    self.fail(f"control {control.id}", f"duplicate ID {control.id}")
                controls[control.id] = control
        return controls

    def control(self, entry: dict, where: str, parts: dict) -> list[Control]:
        title = self.bilingual(entry["title"], where, "title")
        evidence = self.bilingual(entry["evidence"], where, "evidence")
        text_zh = self.text(entry["text_zh"], where, "text_zh")
        applies = self.choices(entry["applies_to"], where, "applies_to", APPLIES)
        implementation = entry["implementation"]
        if implementation not in IMPLEMENTATIONS:
            self.fail(where, f"implementation {implementation!r} is not one of {', '.join(IMPLEMENTATIONS)}")
        checked_by = self.checkers(entry["checked_by"], where)
        if implementation in ("automated", "partial") and not checked_by:
            self.fail(
                where,
                f"implementation {implementation} needs checked_by: the role or playbook that checks it",
            )
        variants = self.variants(entry["id"], where, None, parts)
        built = []
        for org, control_id, others in variants:
            part, chapter = parse_id(control_id)[:2]
            lines = self.pick(text_zh, org, where, "text_zh").split("\n")
            built.append(
                Control(
                    id=control_id,
                    part=part,
                    chapter=f"P{part}.{chapter}",
                    title_zh=self.pick(title["zh"], org, where, "title.zh"),
                    title_en=self.pick(title["en"], org, where, "title.en"),
                    text_zh="\n".join(line.rstrip() for line in lines if line.strip()),
                    applies_to=applies,
                    organizations=(org,) if org else parts[f"P{part}"]["organizations"],
                    implementation=implementation,
                    checked_by=checked_by,
                    evidence_zh=self.pick(evidence["zh"], org, where, "evidence.zh"),
                    evidence_en=self.pick(evidence["en"], org, where, "evidence.en"),
                    counterparts=others,
                )
            )
        return built

    def structure(self, controls: dict[str, Control], chapters: dict, articles: dict) -> None:
        """Every control sits in a known chapter; split articles have items and no control of their own."""
        for control in controls.values():
            where = f"control {control.id}"
            if control.chapter not in chapters:
                self.fail(where, f"chapter {control.chapter} is not in `chapters`")
            depth = len(parse_id(control.id))
            article = control.id.rsplit(".", 1)[0]
            if depth == 4 and article not in articles:
                self.fail(where, f"an item needs its article {article} in `articles` (the heading)")
            if depth == 3 and control.id in articles:
                self.fail(
                    where, f"{control.id} is in `articles`: its items are the controls, not the article"
                )
        used_chapters = {c.chapter for c in controls.values()}
        for chapter_id in chapters:
            if chapter_id not in used_chapters:
                self.fail(f"chapter {chapter_id}", "has no controls")
        for article_id in articles:
            where = f"article {article_id}"
            if article_id.rsplit(".", 1)[0] not in chapters:
                self.fail(where, f"chapter {article_id.rsplit('.', 1)[0]} is not in `chapters`")
            if not any(c.startswith(article_id + ".") for c in controls):
                self.fail(where, "has no item controls (P.c.a.1, ...)")

    # -- IDs and the hospital/agency variants ------------------------------------------------------

    def describe_id(self, raw: Any) -> str:
        if isinstance(raw, dict):
            return " / ".join(str(v) for v in raw.values())
        return str(raw)

    def variants(
        self, raw: Any, where: str, level: int | None, parts: dict
    ) -> list[tuple[str | None, str, tuple[str, ...]]]:
        """(organization or None, ID, the other variants' IDs) for a plain or shared id."""
        if isinstance(raw, str):
            self.check_id(raw, where, level, parts)
            return [(None, raw, ())]
        if not isinstance(raw, dict) or set(raw) != set(ORGANIZATIONS):
            self.fail(where, f"id must be an ID (P1.3.6) or {{{': ..., '.join(ORGANIZATIONS)}: ...}}")
        ids = [raw[org] for org in ORGANIZATIONS]
        if len(set(map(str, ids))) != len(ids):
            self.fail(where, "the variants of a shared entry need different IDs")
        variants = []
        for org, variant_id in zip(ORGANIZATIONS, ids, strict=True):
            if not isinstance(variant_id, str):
                self.fail(where, f"id.{org} must be an ID such as P3.1.1")
            self.check_id(variant_id, where, level, parts)
            part_orgs = parts[variant_id.split(".")[0]]["organizations"]
            if part_orgs != (org,):
                self.fail(
                    where,
                    f"id.{org} {variant_id} is in a part for {', '.join(part_orgs)}, not for {org} alone",
                )
            variants.append((org, variant_id, tuple(i for i in ids if i != variant_id)))
        return variants

    def check_id(self, control_id: str, where: str, level: int | None, parts: dict) -> None:
        numbers = parse_id(control_id)
        if numbers is None:
            self.fail(
                where, f"bad ID {control_id!r}: use P<part>.<chapter>[.<article>[.<item>]], e.g. P1.3.6"
            )
        if level is not None and len(numbers) != level:
            self.fail(where, f"{control_id} is not a {ID_LEVELS[level]} ID ({level} numbers)")
        if f"P{numbers[0]}" not in parts:
            self.fail(where, f"part P{numbers[0]} of {control_id} is not in `parts`")

    def pick(self, text: str, org: str | None, where: str, name: str) -> str:
        """Resolve {hospital text|agency text} for one organization; only shared entries may use it."""
        if org is None:
            if any(ch in text for ch in "{|}"):
                self.fail(
                    where,
                    f"{name}: {{hospital|agency}} alternatives need id: {{hospital: ..., agency: ...}}",
                )
            return text
        index = ORGANIZATIONS.index(org) + 1
        resolved = ALTERNATIVE_RE.sub(lambda match: match.group(index), text)
        if any(ch in resolved for ch in "{|}"):
            self.fail(where, f"{name}: unbalanced or nested {{hospital|agency}} alternative")
        return resolved

    # -- field helpers -----------------------------------------------------------------------------

    def fields(
        self, entry: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> None:
        if not isinstance(entry, dict):
            self.fail(where, f"must be a mapping with {', '.join(required)}")
        missing = [key for key in required if key not in entry]
        if missing:
            self.fail(where, f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        unknown = [str(key) for key in entry if key not in required + optional]
        if unknown:
            self.fail(where, f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")

    def text(self, value: Any, where: str, name: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"{name} must be non-empty text")
        return value.strip()

    def bilingual(self, value: Any, where: str, name: str) -> dict[str, str]:
        if not isinstance(value, dict):
            self.fail(where, f"{name} must be a mapping {{zh: ..., en: ...}}")
        self.fields(value, f"{where}: {name}", required=LANGS)
        return {lang: self.text(value[lang], where, f"{name}.{lang}") for lang in LANGS}

    def choices(self, value: Any, where: str, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail(where, f"{name} must be a non-empty list of {', '.join(allowed)}")
        for item in value:
            if item not in allowed:
                self.fail(where, f"{name}: {item!r} is not one of {', '.join(allowed)}")
        if len(set(value)) != len(value):
            self.fail(where, f"{name} lists a value twice")
        return tuple(item for item in allowed if item in value)

    def checkers(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.fail(where, "checked_by must be a list (empty when nothing checks it yet)")
        for item in value:
            match = CHECKER_RE.fullmatch(item) if isinstance(item, str) else None
            if not match:
                self.fail(where, f"checked_by: {item!r} is not role:<name> or playbook:<file>")
            kind, name = match.groups()
            if kind == "role" and not (self.root / "roles" / name / "tasks" / "main.yml").is_file():
                self.fail(where, f"checked_by: role {name} does not exist (no roles/{name}/tasks/main.yml)")
            if kind == "playbook" and not (self.root / "playbooks" / name).is_file():
                self.fail(where, f"checked_by: playbook {name} does not exist (no playbooks/{name})")
        if len(set(value)) != len(value):
            self.fail(where, "checked_by lists an entry twice")
        return tuple(value)


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise CatalogError(f"unknown language {lang!r}: use zh or en")
    return lang


# -- the generated reference (docs/controls.md) ------------------------------------------------------

DOC_HEADER = """\
# Control catalog

<!-- Generated from controls/catalog.yml by `hisguard controls doc`. Do not edit by hand. -->

One control per article of the health-sector IT management rules. IDs are
`P<part>.<chapter>[.<article>[.<item>]]`; the catalog file's header explains the rules. Part 4
(health administrations and public-health agencies) shares most text with Part 3 (hospitals).

- **automated**: a role or playbook checks it on every run.
- **partial**: a role or playbook checks part of it; a person attests the rest.
- **manual**: a person performs and attests it; the evidence says what will automate it later.
- **organizational**: met by a document, an appointment, a duty or training.
"""


def counts(catalog: Catalog) -> dict[str, Counter]:
    """Controls per part and implementation: {"P1": Counter({"manual": 12, ...}), ...}."""
    table: dict[str, Counter] = {part: Counter() for part in catalog.parts}
    for control in catalog.controls.values():
        table[f"P{control.part}"][control.implementation] += 1
    return table


def render_markdown(catalog: Catalog) -> str:
    """docs/controls.md: deterministic, English headings, both titles, the Chinese text."""
    out = [DOC_HEADER, "## Summary", ""]
    out.append("| part | " + " | ".join(IMPLEMENTATIONS) + " | total |")
    out.append("| --- |" + " ---: |" * (len(IMPLEMENTATIONS) + 1))
    table = counts(catalog)
    for part, counter in table.items():
        cells = " | ".join(str(counter[impl]) for impl in IMPLEMENTATIONS)
        out.append(f"| {part} | {cells} | {sum(counter.values())} |")
    total = sum(table.values(), Counter())
    out.append("| all | " + " | ".join(str(total[i]) for i in IMPLEMENTATIONS) + f" | {total.total()} |")
    shown: set[str] = set()
    for control in catalog.controls.values():
        article = control.id.rsplit(".", 1)[0]
        headings = (
            (f"P{control.part}", catalog.parts, 2),
            (control.chapter, catalog.chapters, 3),
            (article, catalog.articles, 4),
        )
        for heading_id, headings_table, level in headings:
            if heading_id in headings_table and heading_id not in shown:
                shown.add(heading_id)
                names = headings_table[heading_id]
                out += ["", f"{'#' * level} {heading_id} {names['zh']} — {names['en']}"]
        level = 5 if article in catalog.articles else 4
        out += ["", f"{'#' * level} {control.id} {control.title_zh} — {control.title_en}", ""]
        out.append(f"- **Implementation:** {control.implementation}")
        out.append(f"- **Applies to:** {', '.join(control.applies_to)}")
        out.append(f"- **Organizations:** {', '.join(control.organizations)}")
        checked = ", ".join(f"`{c}`" for c in control.checked_by) or "—"
        out.append(f"- **Checked by:** {checked}")
        if control.counterparts:
            out.append(f"- **Shared text with:** {', '.join(control.counterparts)}")
        out.append(f"- **Evidence:** {control.evidence_en}")
        out.append(f"- **证据:** {control.evidence_zh}")
        out.append("")
        out.append("\n>\n".join(f"> {line}" for line in control.text_zh.split("\n")))
    return "\n".join(out) + "\n"
