"""Hosts, files and playbook runs of the vendor_access scenario (podman exec, independent of the role)."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import testinfra

GRANTED = "vendor-access-grant"
ROGUE = "vendor-access-rogue"


def ephemeral() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


def scenario() -> Path:
    return Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])


@pytest.fixture(scope="session")
def granted():
    return testinfra.get_host(f"podman://{GRANTED}")


@pytest.fixture(scope="session")
def rogue():
    return testinfra.get_host(f"podman://{ROGUE}")


@pytest.fixture(scope="session")
def grant() -> dict:
    return json.loads((ephemeral() / "grant.json").read_text(encoding="utf-8"))


def load_results(path: Path) -> list[dict]:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["schema"] == "hisguard.results/1"
    return document["results"]


def only_result(results: list[dict], host: str) -> dict:
    """The one P1.2.5 result of the host; the role must not emit two."""
    found = [r for r in results if r["host"] == host and r["control"] == "P1.2.5"]
    assert len(found) == 1, f"expected one P1.2.5 result for {host}, got {len(found)}"
    return found[0]


def playbook(name: str, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Run one of the scenario's playbooks on the molecule inventory; its own results file."""
    results = tmp_path / f"results-{name}.json"
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    run = subprocess.run(
        ["ansible-playbook", "--inventory", inventory, *args, str(scenario() / name)],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "HISGUARD_RESULTS_FILE": str(results),
        },
    )
    return run, results


def changed(run: subprocess.CompletedProcess, host: str) -> int:
    """The PLAY RECAP's changed= of the host."""
    found = re.search(rf"^{re.escape(host)}\s+:\s+ok=\d+\s+changed=(\d+)", run.stdout, re.M)
    assert found, f"no PLAY RECAP line for {host}:\n{run.stdout[-3000:]}"
    return int(found.group(1))
