"""Incidents on disk: the append-only timeline (JSONL, the source of truth) and its copy in the store.

Layout under <var>/incidents/ (the same that hisguard.timeline.record() appends to):

    CURRENT                 the open incident's id (absent when none is open)
    <id>/timeline.jsonl     one JSON object a line: {time (UTC ISO), actor, action, detail}
    <id>/...                evidence of the incident: diagnosis results, reports

Every entry is written to the JSONL file first (one write() on an O_APPEND descriptor, then fsync),
then copied to the store (table incident_events, append-only). load() reconciles: lines missing
from the store are copied in, so a command killed between the two writes loses nothing; a line
that differs from its stored copy, or a stored line missing from the file, is reported as a problem.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hisguard import paths
from hisguard.errors import UserError
from hisguard.incident import (
    ID_RE,
    Entry,
    Incident,
    TimelineError,
    entry_from_json,
    iso,
    replay,
)
from hisguard.store import Store

TIMELINE = "timeline.jsonl"


def incidents_dir() -> Path:
    return paths.var_dir() / "incidents"


def current_file() -> Path:
    return incidents_dir() / "CURRENT"


def incident_dir(incident_id: str) -> Path:
    check_id(incident_id)
    return incidents_dir() / incident_id


def timeline_file(incident_id: str) -> Path:
    return incident_dir(incident_id) / TIMELINE


def check_id(incident_id: str) -> str:
    if not ID_RE.match(incident_id or ""):
        raise UserError(
            f"{incident_id!r} is not an incident id (like INC-20250601T031200Z-1a2b); "
            "`hisguard incident list` shows them"
        )
    return incident_id


def default_actor() -> str:
    """Who is typing: $HISGUARD_ACTOR, else the sudo user, else the login name."""
    for name in ("HISGUARD_ACTOR", "SUDO_USER"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def new_id(drill: bool, now: datetime) -> str:
    return f"{'DRILL' if drill else 'INC'}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


# ----------------------------------------------------------------------------------------- the file
def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_line(path: Path, data: dict[str, Any]) -> str:
    """Append one JSON line durably; returns the line (without its newline)."""
    line = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    if "\n" in line:  # json.dumps escapes newlines in strings; this never happens
        raise ValueError("a timeline line must not contain a newline")
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        prefix = b""
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as reader:  # a line cut short by a crash must not swallow ours
                reader.seek(size - 1)
                if reader.read(1) != b"\n":
                    prefix = b"\n"
        os.write(fd, prefix + line.encode("utf-8") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)
    return line


@dataclass
class FileLine:
    line: int
    text: str
    entry: Entry | None
    error: str | None = None


def read_lines(path: Path) -> list[FileLine]:
    """Every line of a timeline file, numbered from 1; unparsable lines carry their error."""
    if not path.exists():
        return []
    result = []
    with open(path, "rb") as fh:
        raw_lines = fh.read().split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    for number, raw in enumerate(raw_lines, start=1):
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            result.append(FileLine(number, text, None, "empty line"))
            continue
        try:
            entry = entry_from_json(json.loads(text), number)
        except (ValueError, TypeError) as err:
            result.append(FileLine(number, text, None, f"not a timeline entry ({err})"))
            continue
        result.append(FileLine(number, text, entry))
    return result


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------------------ CURRENT
def current_id() -> str | None:
    """The open incident's id, or None."""
    try:
        value = current_file().read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value if ID_RE.match(value) else None


def _write_current(incident_id: str | None) -> None:
    path = current_file()
    if incident_id is None:
        path.unlink(missing_ok=True)
    else:
        tmp = path.with_name(".CURRENT.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(incident_id + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialize open/resolve across processes (flock on <var>/incidents/.lock)."""
    incidents_dir().mkdir(parents=True, exist_ok=True, mode=0o750)
    with open(incidents_dir() / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------ service
@dataclass
class Loaded:
    """An incident as read back: its state, every entry in order, and any problem found."""

    incident: Incident
    entries: list[Entry]
    problems: list[str] = field(default_factory=list)
    copied: int = 0  # entries copied from the file to the store by this load


def _summary_row(incident: Incident, file: Path) -> dict[str, Any]:
    return {
        "id": incident.id,
        "org": incident.org,
        "class": incident.cls,
        "summary": incident.summary,
        "drill": incident.drill,
        "opened": iso(incident.opened),
        "resolved": iso(incident.resolved) if incident.resolved else None,
        "timeline_file": str(file),
    }


def record(
    store: Store, incident_id: str, action: str, detail: dict[str, Any], actor: str | None = None
) -> Entry:
    """Append one entry: to the JSONL file first (durable), then to the store (reconciled)."""
    entry = Entry(datetime.now(UTC), actor or default_actor(), action, detail)
    path = timeline_file(incident_id)
    if not path.exists():
        raise UserError(f"incident {incident_id} has no timeline ({path}); `hisguard incident list`")
    append_line(path, entry.to_json())
    load(store, incident_id)  # copies the new line (and any other writer's) to the store
    return entry


def open_incident(store: Store, detail: dict[str, Any], drill: bool, actor: str | None = None) -> str:
    """Create an incident from its incident.open detail; it becomes CURRENT. Refuses when one is open."""
    with _locked():
        open_now = current_id()
        if open_now is not None:
            raise UserError(
                f"incident {open_now} is still open: `hisguard incident status` shows it; resolve it "
                "(`hisguard incident resolve`) before opening another"
            )
        now = datetime.now(UTC)
        incident_id = new_id(drill, now)
        directory = incident_dir(incident_id)
        directory.mkdir(parents=True, mode=0o750)
        entry = Entry(
            now, actor or default_actor(), "incident.open", {**detail, "id": incident_id, "drill": drill}
        )
        append_line(directory / TIMELINE, entry.to_json())
        _write_current(incident_id)
    load(store, incident_id)
    return incident_id


def close_current(incident_id: str) -> None:
    """Clear CURRENT when it names this incident (after the resolve entry is written)."""
    with _locked():
        if current_id() == incident_id:
            _write_current(None)


def load(store: Store, incident_id: str) -> Loaded:
    """Read the timeline file, copy lines the store lacks into it, and replay the incident."""
    path = timeline_file(incident_id)
    lines = read_lines(path)
    stored = store.incident_event_rows(incident_id)
    by_line = {row["line"]: row for row in stored}
    problems: list[str] = []
    entries: dict[int, Entry] = {}
    new_rows = []
    for fl in lines:
        row = by_line.get(fl.line)
        if fl.entry is None:
            if row is None:
                problems.append(f"{path} line {fl.line}: {fl.error}; skipped")
            else:
                problems.append(
                    f"{path} line {fl.line} was changed after it was stored; the stored copy is used"
                )
            continue
        if row is not None and row["digest"] != digest(fl.text):
            problems.append(f"{path} line {fl.line} was changed after it was stored; the stored copy is used")
            continue
        entries[fl.line] = fl.entry
        if row is None:
            new_rows.append(
                {
                    "line": fl.line,
                    "time": iso(fl.entry.time),
                    "actor": fl.entry.actor,
                    "action": fl.entry.action,
                    "detail": fl.entry.detail,
                    "digest": digest(fl.text),
                }
            )
    file_lines = {fl.line for fl in lines}
    only_stored = [row for row in stored if row["line"] not in file_lines]
    if only_stored:
        problems.append(
            f"{path} lacks {len(only_stored)} entr{'y' if len(only_stored) == 1 else 'ies'} kept in the "
            "store (the file was truncated or lost); the stored copies are used"
        )
    for row in stored:
        if row["line"] not in entries:
            entries[row["line"]] = Entry(
                datetime.fromisoformat(row["time"]), row["actor"], row["action"], row["detail"], row["line"]
            )
    ordered = [entries[n] for n in sorted(entries)]
    if not ordered:
        raise UserError(
            f"incident {incident_id} has no timeline ({path} is missing or empty and the store has no copy)"
        )
    try:
        incident = replay(ordered)
    except TimelineError as err:
        raise UserError(f"incident {incident_id}: {err} ({path})") from None
    store.save_incident(_summary_row(incident, path))
    if new_rows:
        store.add_incident_events(incident_id, new_rows)
    return Loaded(incident, ordered, problems, len(new_rows))


def known_ids(store: Store) -> list[str]:
    """Every incident id, from the files and the store, newest first."""
    ids = {row["id"] for row in store.incident_rows()}
    if incidents_dir().is_dir():
        ids |= {p.parent.name for p in incidents_dir().glob(f"*/{TIMELINE}") if ID_RE.match(p.parent.name)}
    return sorted(ids, key=lambda i: i.split("-", 1)[1], reverse=True)


def pick(store: Store, incident_id: str | None) -> str:
    """The incident a command acts on: the id given, else the open one, else the newest."""
    if incident_id:
        check_id(incident_id)
        if not timeline_file(incident_id).exists() and store.incident_row(incident_id) is None:
            raise UserError(f"no incident {incident_id}; `hisguard incident list` shows them")
        return incident_id
    current = current_id()
    if current:
        return current
    ids = known_ids(store)
    if not ids:
        raise UserError('no incident yet: `hisguard incident open --class 1 --summary "..."` opens one')
    return ids[0]
