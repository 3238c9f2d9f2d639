"""The open incident's timeline: an append-only JSON-lines file every recovery step is written to.

An incident is open when `var/incidents/CURRENT` holds its id; its timeline is
`var/incidents/<id>/timeline.jsonl`, one JSON object per line:

    {"time": "2025-03-04T02:15:07.412345+00:00", "actor": "wang", "action": "failover.uplink.apply",
     "detail": {...}}

With no incident open, record() does nothing. The incident model itself (opening, closing,
reports) builds on this file; this module only appends.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
from pathlib import Path
from typing import Any

from hisguard import paths
from hisguard.errors import UserError

_INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def incidents_dir() -> Path:
    return paths.var_dir() / "incidents"


def current_incident() -> str | None:
    """The open incident's id, or None when no incident is open."""
    try:
        text = (incidents_dir() / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise UserError(f"cannot read {incidents_dir() / 'CURRENT'}: {err}") from None
    if not text:
        return None
    if not _INCIDENT_ID.match(text) or ".." in text:
        raise UserError(
            f"{incidents_dir() / 'CURRENT'} holds {text[:40]!r}, which is not an incident id (letters, "
            "digits, '.', '_', '-'): fix or remove the file"
        )
    return text


def timeline_file(incident_id: str) -> Path:
    return incidents_dir() / incident_id / "timeline.jsonl"


def default_actor() -> str:
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"


def record(action: str, detail: dict, actor: str | None = None) -> None:
    """Append one entry to the open incident's timeline; do nothing when no incident is open."""
    incident = current_incident()
    if incident is None:
        return
    entry: dict[str, Any] = {
        "time": datetime.datetime.now(datetime.UTC).isoformat(),
        "actor": actor or default_actor(),
        "action": action,
        "detail": detail,
    }
    line = json.dumps(entry, ensure_ascii=False, default=str, sort_keys=False) + "\n"
    path = timeline_file(incident)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            prefix = b""
            size = os.fstat(fd).st_size
            if size:  # a line cut short by a crash must not swallow this one
                with open(path, "rb") as reader:
                    reader.seek(size - 1)
                    prefix = b"" if reader.read(1) == b"\n" else b"\n"
            os.write(fd, prefix + line.encode("utf-8"))  # one write per entry: lines never interleave
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as err:
        raise UserError(f"cannot append to the incident timeline {path}: {err}") from None


def read(incident_id: str | None = None) -> list[dict]:
    """The entries of an incident's timeline (the open one by default); [] when there are none.
    A line that is not JSON (cut short by a crash) is skipped."""
    incident = incident_id or current_incident()
    if incident is None:
        return []
    try:
        text = timeline_file(incident).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries = []
    for line in text.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            if line.strip():
                entries.append(json.loads(line))
    return entries
