"""Hosts and files of the operations scenario, read independently of the roles (podman exec)."""

import json
import os
from pathlib import Path

import pytest
import testinfra

GOOD = "ops-good"
BAD = "ops-bad"
ROGUE = "ops-rogue"
SERVERS = (GOOD, BAD)
SNAPSHOT_SCRIPT = Path(__file__).resolve().parent.parent / "snapshot.sh"


def ephemeral() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


def host(name: str):
    return testinfra.get_host(f"podman://{name}")


def load_results(name: str) -> dict:
    document = json.loads((ephemeral() / name).read_text(encoding="utf-8"))
    assert document["schema"] == "hisguard.results/1"
    return document


def only_result(document: dict, host_name: str, control: str) -> dict:
    """The one result of (host, control); a role must not emit two."""
    found = [r for r in document["results"] if r["host"] == host_name and r["control"] == control]
    assert len(found) == 1, f"expected one {control} result for {host_name}, got {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def converge_results() -> dict:
    """The idempotence run's results (the last run of converge.yml), kept by side_effect.yml."""
    return load_results("results-idempotence.json")


@pytest.fixture(scope="session")
def snapshots() -> dict:
    """{host: snapshot.sh output} taken at the end of prepare."""
    return json.loads((ephemeral() / "snapshots.json").read_text(encoding="utf-8"))
