"""The IP register (playbooks/ip_register.yml: P1.4.10, P1.3.5) and the equipment register
(playbooks/asset_register.yml: P2.4.1, P2.6.5), run through ansible-runner."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from hisguard import paths
from hisguard.errors import UserError
from hisguard.results import Result, load_results
from hisguard.runner import RunResult, run_playbook

ASSET_MODULE = "asset_register"


def asset_utils() -> ModuleType:
    """plugins/module_utils/asset_register.py, imported by path (no Ansible collection loader needed)."""
    source = paths.ROOT / "plugins" / "module_utils" / "asset_register.py"
    spec = importlib.util.spec_from_file_location("hisguard._asset_register_utils", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_register_file(path: str | Path) -> Path:
    """The resolved path of a readable register CSV; UserError saying what is wrong, before anything runs."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"register file {path} does not exist")
    utils = asset_utils()
    try:
        utils.parse_register(utils.decode_register(path.read_bytes()))
    except OSError as err:
        raise UserError(f"register file {path} cannot be read: {err.strerror}") from None
    except utils.AssetError as err:
        raise UserError(f"register file {path}: {err}") from None
    return path


@dataclass
class IpRegisterResult:
    run: RunResult
    hosts: list[Result]  # P1.4.10, one per host
    sweep: Result | None  # P1.3.5 from the scanner

    @property
    def unknown(self) -> list[dict]:
        observed = self.sweep.observed if self.sweep and isinstance(self.sweep.observed, dict) else {}
        return list(observed.get("unknown") or [])

    @property
    def mac_mismatch(self) -> list[dict]:
        observed = self.sweep.observed if self.sweep and isinstance(self.sweep.observed, dict) else {}
        return list(observed.get("mac_mismatch") or [])


@dataclass
class AssetRegisterResult:
    run: RunResult
    csv: Path | None = None
    json: Path | None = None
    rows: list[dict] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    reconciled: bool = False
    differences: list[dict] = field(default_factory=list)
    error: str | None = None


def ip_register(
    inventory: str | Path | None = None,
    scanner: str | None = None,
    extravars: dict | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> IpRegisterResult:
    """Compare every host with the IP register; sweep the intranet from `scanner` (default: a log server)."""
    variables = dict(extravars or {})
    if scanner:
        variables["ip_register_scanner"] = scanner
    run = run_playbook("ip_register.yml", inventory=inventory, extravars=variables, on_event=on_event)
    if not run.results_file.exists():
        raise UserError(f"the run wrote no results: see {run.artifacts_dir / 'stdout'}", exit_code=1)
    results = load_results(run.results_file).results
    sweep = [r for r in results if r.control == "P1.3.5"]
    return IpRegisterResult(
        run=run,
        hosts=sorted((r for r in results if r.control == "P1.4.10"), key=lambda r: r.host),
        sweep=sweep[0] if sweep else None,
    )


def asset_register(
    inventory: str | Path | None = None,
    reconcile: str | Path | None = None,
    lang: str = "zh",
    on_event: Callable[[dict], None] | None = None,
) -> AssetRegisterResult:
    """Write var/registers/assets-DATE.csv/.json from the devices' facts; reconcile with a register file."""
    extravars = {"asset_register_lang": lang}
    if reconcile:
        extravars["asset_register_reconcile"] = str(check_register_file(reconcile))
    found: dict = {}

    def handler(event: dict) -> None:
        if on_event is not None:
            on_event(event)
        data = event.get("event_data", {})
        if not str(data.get("task_action", "")).endswith(ASSET_MODULE):
            return
        if event.get("event") == "runner_on_ok":
            found.update(data.get("res") or {})
        elif event.get("event") == "runner_on_failed":
            found["error"] = str((data.get("res") or {}).get("msg", "the register could not be written"))

    run = run_playbook("asset_register.yml", inventory=inventory, extravars=extravars, on_event=handler)
    if "error" in found:
        raise UserError(found["error"], exit_code=1)
    if "csv" not in found:
        raise UserError(f"the register was not written: see {run.artifacts_dir / 'stdout'}", exit_code=1)
    return AssetRegisterResult(
        run=run,
        csv=Path(found["csv"]),
        json=Path(found["json"]),
        rows=list(found.get("rows") or []),
        unreachable=list(found.get("unreachable") or []),
        reconciled=bool(found.get("reconciled")),
        differences=list(found.get("differences") or []),
    )
