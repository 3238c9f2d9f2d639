"""The hook every recovery step calls: append to the open incident's timeline, or do nothing when no
incident is open. The timeline's layout and durability (fsync, torn lines, the store copy) live in
hisguard.incident_timeline; this module is the small API the failover and restore code depend on."""

from __future__ import annotations

from datetime import UTC, datetime

from hisguard import incident_timeline
from hisguard.errors import UserError
from hisguard.incident import Entry


def current_incident() -> str | None:
    """The open incident's id, or None when no incident is open; a damaged CURRENT file is an error."""
    try:
        text = incident_timeline.current_file().read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return incident_timeline.check_id(text) if text else None


def record(action: str, detail: dict, actor: str | None = None) -> None:
    """Append one entry to the open incident's timeline; the store copies it on its next read."""
    incident = current_incident()
    if incident is None:
        return
    path = incident_timeline.timeline_file(incident)
    entry = Entry(datetime.now(UTC), actor or incident_timeline.default_actor(), action, detail)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        incident_timeline.append_line(path, entry.to_json())
    except OSError as err:
        raise UserError(f"cannot append to the incident timeline {path}: {err}") from None


def read(incident_id: str | None = None) -> list[dict]:
    """The parsable entries of an incident's timeline (the open one by default)."""
    incident = incident_id or current_incident()
    if incident is None:
        return []
    lines = incident_timeline.read_lines(incident_timeline.timeline_file(incident))
    return [line.entry.to_json() for line in lines if line.entry is not None]
