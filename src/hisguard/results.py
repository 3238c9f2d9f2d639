"""Compliance results as the `hisguard.infosec.compliance` callback writes them (schema hisguard.results/1).

The status, waiver and aggregation rules live once, in the collection's
plugins/module_utils/compliance.py; `compliance` below is that module.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from hisguard import paths
from hisguard.errors import UserError


def _load_compliance_utils() -> ModuleType:
    """Import plugins/module_utils/compliance.py by path (no Ansible collection loader needed)."""
    name = "hisguard._compliance_utils"
    if name in sys.modules:
        return sys.modules[name]
    source = paths.ROOT / "plugins" / "module_utils" / "compliance.py"
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:  # pragma: no cover - broken checkout
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


compliance = _load_compliance_utils()

RESULTS_SCHEMA: str = compliance.RESULTS_SCHEMA
STATUSES: tuple[str, ...] = compliance.STATUSES
SEVERITY: tuple[str, ...] = compliance.SEVERITY
combine_statuses = compliance.combine_statuses
compliance_percent = compliance.compliance_percent


@dataclass(frozen=True)
class Result:
    """One check of one control on one host."""

    host: str
    control: str
    status: str
    observed: Any = None
    expected: Any = None
    remediation: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    waiver: dict[str, Any] | None = None
    expired_waiver: dict[str, Any] | None = None
    task: str | None = None
    role: str | None = None
    time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ResultSet:
    """The results of one playbook run, with the run's metadata."""

    results: list[Result]
    playbook: str | None = None
    started: str | None = None
    finished: str | None = None
    hosts: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    expired_waivers: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    def by_host_control(self) -> dict[tuple[str, str], list[Result]]:
        return group_results(self.results)

    def counts(self) -> Counter:
        return aggregate_counts(self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": RESULTS_SCHEMA,
            "run": {
                "playbook": self.playbook,
                "started": self.started,
                "finished": self.finished,
                "hosts": list(self.hosts),
                "stats": self.stats,
            },
            "results": [result.to_dict() for result in self.results],
            "expired_waivers": list(self.expired_waivers),
        }


def group_results(results: list[Result]) -> dict[tuple[str, str], list[Result]]:
    """Results per (host, control), in first-seen order."""
    grouped: dict[tuple[str, str], list[Result]] = {}
    for result in results:
        grouped.setdefault((result.host, result.control), []).append(result)
    return grouped


def aggregate_counts(results: list[Result]) -> Counter:
    """Status counts over (host, control) pairs; several results for one pair count once, worst first."""
    return Counter(combine_statuses([r.status for r in group]) for group in group_results(results).values())


_OPTIONAL_STR = ("remediation", "task", "role", "time")
_OPTIONAL_DICT = ("waiver", "expired_waiver")


def result_from_dict(data: Any, where: str) -> Result:
    """Build a Result from its JSON form; ValueError with `where` (e.g. "results[3]") on bad data."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object")
    for key in ("host", "control", "status"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"{where}: `{key}` is missing or not a string")
    if data["status"] not in STATUSES:
        raise ValueError(f"{where}: unknown status {data['status']!r} (expected {', '.join(STATUSES)})")
    evidence = data.get("evidence") or {}
    if not isinstance(evidence, dict):
        raise ValueError(f"{where}: `evidence` must be an object")
    for key in _OPTIONAL_STR:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"{where}: `{key}` must be a string")
    for key in _OPTIONAL_DICT:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ValueError(f"{where}: `{key}` must be an object")
    return Result(
        host=data["host"],
        control=data["control"],
        status=data["status"],
        observed=data.get("observed"),
        expected=data.get("expected"),
        remediation=data.get("remediation"),
        evidence=evidence,
        waiver=data.get("waiver"),
        expired_waiver=data.get("expired_waiver"),
        task=data.get("task"),
        role=data.get("role"),
        time=data.get("time"),
    )


def parse_results(data: Any) -> ResultSet:
    """Validate a parsed results document; ValueError saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    if data.get("schema") != RESULTS_SCHEMA:
        raise ValueError(f"schema is {data.get('schema')!r}, expected {RESULTS_SCHEMA!r}")
    run = data.get("run")
    if not isinstance(run, dict):
        raise ValueError("`run` is missing or not an object")
    if not isinstance(data.get("results"), list):
        raise ValueError("`results` is missing or not a list")
    hosts = run.get("hosts") or []
    stats = run.get("stats") or {}
    expired = data.get("expired_waivers") or []
    if not isinstance(hosts, list) or not all(isinstance(host, str) for host in hosts):
        raise ValueError("`run.hosts` must be a list of host names")
    if not isinstance(stats, dict):
        raise ValueError("`run.stats` must be an object")
    if not isinstance(expired, list) or not all(isinstance(item, dict) for item in expired):
        raise ValueError("`expired_waivers` must be a list of objects")
    results = [result_from_dict(item, f"results[{index}]") for index, item in enumerate(data["results"])]
    return ResultSet(
        results=results,
        playbook=run.get("playbook"),
        started=run.get("started"),
        finished=run.get("finished"),
        hosts=sorted(set(hosts) | {result.host for result in results}),
        stats=stats,
        expired_waivers=expired,
    )


def load_results(path: str | Path) -> ResultSet:
    """Read a results file; UserError naming the file if it is missing, not JSON or not our schema."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"results file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"results file {path} cannot be read: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(
            f"results file {path} is not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); "
            "it may be truncated: run the playbook again"
        ) from None
    try:
        result_set = parse_results(data)
    except ValueError as err:
        raise UserError(f"results file {path} is not a hisguard results file: {err}") from None
    result_set.path = path
    return result_set
