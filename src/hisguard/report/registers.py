"""The register section of a report: the equipment register (设备台账) and its differences (P2.4.1, P2.6.5),
and the devices the intranet sweep found outside the IP register (P1.3.5), taken from the run's results."""

from __future__ import annotations

from dataclasses import dataclass, field

from hisguard.registers import asset_utils
from hisguard.results import Result


@dataclass
class RegisterView:
    columns: list[tuple[str, str]]  # (field key, header in the report's language)
    assets: list[dict] = field(default_factory=list)
    differences: list[dict] = field(default_factory=list)
    unknown: list[dict] = field(default_factory=list)
    mac_mismatch: list[dict] = field(default_factory=list)
    scanner: str | None = None

    def header(self, key: str | None) -> str:
        return dict(self.columns).get(key or "", key or "")


def _observed(result: Result) -> dict:
    return result.observed if isinstance(result.observed, dict) else {}


def build_registers(results: list[Result], lang: str) -> RegisterView | None:
    """None when the run holds neither an equipment register nor an intranet sweep."""
    utils = asset_utils()
    view = RegisterView(columns=[(key, zh if lang == "zh" else en) for key, zh, en in utils.FIELDS])
    for result in results:
        if result.control == "P2.4.1" and result.evidence.get("row"):
            view.assets.append(dict(result.evidence["row"]))
        elif result.control == "P2.6.5":
            view.differences += list(_observed(result).get("differences") or [])
        elif result.control == "P1.3.5" and result.status != "error":
            view.scanner = result.host
            view.unknown += list(_observed(result).get("unknown") or [])
            view.mac_mismatch += list(_observed(result).get("mac_mismatch") or [])
    if lang == "zh":
        for row in view.assets:
            row["kind"] = utils.KINDS.get(row.get("kind"), row.get("kind"))
    view.assets.sort(key=lambda row: str(row.get("host")))
    if not (view.assets or view.differences or view.scanner):
        return None
    return view
