"""Hosts and files of the antivirus scenario, read independently of the role (podman exec)."""

import json
import os
from pathlib import Path

import pytest
import testinfra

ENFORCED = "antivirus-enforce"  # server, ClamAV purged in prepare, enforced, CAP_SYS_ADMIN
NOCAP = "antivirus-nocap"  # workstation, enforced, no CAP_SYS_ADMIN (on-access cannot run)
AUDITED = "antivirus-audit"  # workstation, 30-day-old signatures, audit only
MIRROR_HOST = "mirror.lab.internal"
SNAPSHOT = (Path(__file__).parent / "snapshot.sh").read_text(encoding="utf-8")
# The EICAR test string in two pieces, so that this file is no test file for a scanner.
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def ephemeral() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


@pytest.fixture(scope="session")
def enforced():
    return testinfra.get_host(f"podman://{ENFORCED}")


@pytest.fixture(scope="session")
def nocap():
    return testinfra.get_host(f"podman://{NOCAP}")


@pytest.fixture(scope="session")
def audited():
    return testinfra.get_host(f"podman://{AUDITED}")


def write_eicar(host, path: str) -> None:
    """Write the EICAR test string (68 bytes, no newline) into `path` inside the container."""
    host.check_output("printf '%%s' %s > %s", EICAR, path)


def load_results(name: str) -> dict:
    document = json.loads((ephemeral() / name).read_text(encoding="utf-8"))
    assert document["schema"] == "hisguard.results/1"
    return document


def results_of(document: dict, host: str, control: str) -> list[dict]:
    return [r for r in document["results"] if r["host"] == host and r["control"] == control]


def only_result(document: dict, host: str, control: str) -> dict:
    """The one result of (host, control); the role must not emit two."""
    found = results_of(document, host, control)
    assert len(found) == 1, f"expected one {control} result for {host}, got {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def audit_results() -> dict:
    return load_results("results-audit.json")


@pytest.fixture(scope="session")
def converge_results() -> dict:
    return load_results("results-converge.json")
