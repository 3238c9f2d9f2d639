"""Waivers (exceptions to a control): load and validate a `--waivers FILE`.

A waiver file is YAML, either a list of waivers or a mapping `hisguard_waivers: [...]` (the same shape
as in group_vars). Each waiver has: control, hosts and/or groups (names or shell globs), reason,
approver, ticket, expires (YYYY-MM-DD; valid through that day), optionally id and note.

The rules (validation, matching, expiry) are those of plugins/module_utils/compliance.py, which the
`compliance_result` action applies during the run; this module checks a file before the run so a
mistake is reported once, naming the file and the waiver.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from hisguard.errors import UserError
from hisguard.results import compliance

WAIVERS_VAR = "hisguard_waivers"


def catalog_control_ids() -> frozenset[str]:
    from hisguard.catalog import load_catalog  # the catalog module raises UserError on a bad catalog

    return frozenset(load_catalog().controls)


def validate_waivers(
    waivers: Any, source: str, control_ids: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Validate already-parsed waivers; UserError naming `source` and the waiver."""
    known = frozenset(control_ids) if control_ids is not None else catalog_control_ids()
    try:
        return compliance.validate_waivers(waivers, known)
    except compliance.ComplianceError as err:
        raise UserError(f"waivers file {source}: {err}") from None


def load_waivers(path: str | Path, control_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Read and validate a waivers file; returns the normalized waivers.

    control_ids defaults to the IDs of hisguard.catalog.load_catalog().
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"waivers file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"waivers file {path} cannot be read: {err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserError(f"waivers file {path} is not valid YAML: {err}") from None
    if isinstance(data, dict):
        if set(data) != {WAIVERS_VAR}:
            raise UserError(
                f"waivers file {path}: expected a list of waivers or a mapping with the single key "
                f"`{WAIVERS_VAR}` (found keys: {', '.join(map(str, data))})"
            )
        data = data[WAIVERS_VAR]
    if data is None:
        return []
    return validate_waivers(data, str(path), control_ids)


def extravars(waivers: list[dict[str, Any]]) -> dict[str, Any]:
    """The extra vars that hand waivers to the playbook run (they take precedence over group_vars)."""
    return {WAIVERS_VAR: [dict(waiver) for waiver in waivers]}


def is_expired(waiver: dict[str, Any], today: datetime.date | None = None) -> bool:
    return compliance.waiver_expired(waiver, today or datetime.date.today())


def split_expired(
    waivers: list[dict[str, Any]], today: datetime.date | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(in force, expired) for listings."""
    today = today or datetime.date.today()
    active = [waiver for waiver in waivers if not is_expired(waiver, today)]
    expired = [waiver for waiver in waivers if is_expired(waiver, today)]
    return active, expired
