"""Hosts and results of the software_control scenario, read independently of the role (podman exec)."""

import json
import os
from pathlib import Path

import pytest
import testinfra

WORKSTATION = "swctl-ws"  # enforce, remove_unapproved: everything denied is removed, passes
SERVER = "swctl-srv"  # enforce, unapproved packages reported only, fails P2.5.6
HOSTS = (WORKSTATION, SERVER)
SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshot.sh"


def ephemeral() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


@pytest.fixture(scope="session")
def host():
    return {name: testinfra.get_host(f"podman://{name}") for name in HOSTS}


def load_results(name: str) -> dict:
    document = json.loads((ephemeral() / name).read_text(encoding="utf-8"))
    assert document["schema"] == "hisguard.results/1"
    return document


def results_of(document: dict, host: str) -> dict:
    """{control: result} of one host; the role must not emit two results for one control."""
    found = {}
    for result in document["results"]:
        if result["host"] == host:
            assert result["control"] not in found, f"two {result['control']} results for {host}"
            found[result["control"]] = result
    return found


@pytest.fixture(scope="session")
def audit_results() -> dict:
    return load_results("results-audit.json")


@pytest.fixture(scope="session")
def refused_results() -> dict:
    return load_results("results-refused.json")


@pytest.fixture(scope="session")
def converge_results() -> dict:
    return load_results("results-converge.json")
