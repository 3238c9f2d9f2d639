"""Hosts and files of the accounts scenario, read independently of the role (podman exec)."""

import json
import os
from pathlib import Path

import pytest
import testinfra

ENFORCED = "accounts-enforce"
AUDITED = "accounts-audit"
CONTROLS = ["P1.2.7", "P1.3.3", "P1.3.10", "P1.4.8", "P2.6.3"]
# Type, mode, owner, size, mtime and link target of every entry in /etc, then every file's hash
# (the same command prepare.yml runs before and after the audit).
ETC_SNAPSHOT = (
    r"find /etc -xdev -printf '%y %#m %u:%g %s %T@ %p -> %l\n' | LC_ALL=C sort && "
    r"find /etc -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"
)
# The throw-away test passwords' hashes prepare.yml sets (zhangsan, guest): never in a result or log.
SEEDED_HASHES = [
    "$6$hisguardsalt1$EdCaXT5T0hYnQvpmT8/2nvmNkYEBFdFZfx4JUwa05rjzBGoO6hQHSEvUvbU.eYo405CEfA9XfJM1pVjeOLmm61",
    "$6$hisguardsalt2$Cma/4COqpAjc9ix2ygFQLG6HkhmnX9S9MdI406jax8fZTkSf5aj8JS8sD6jAj.KKrRFA8IbhQl5nK0IemiWyK1",
]


def ephemeral() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


@pytest.fixture(scope="session")
def enforced():
    return testinfra.get_host(f"podman://{ENFORCED}")


@pytest.fixture(scope="session")
def audited():
    return testinfra.get_host(f"podman://{AUDITED}")


def load_results(name: str) -> dict:
    document = json.loads((ephemeral() / name).read_text(encoding="utf-8"))
    assert document["schema"] == "hisguard.results/1"
    return document


def only_result(document: dict, host: str, control: str) -> dict:
    """The one result of (host, control); a role must not emit two."""
    found = [r for r in document["results"] if r["host"] == host and r["control"] == control]
    assert len(found) == 1, f"expected one {control} result for {host}, got {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def audit_results() -> dict:
    return load_results("results-audit.json")


@pytest.fixture(scope="session")
def converge_results() -> dict:
    return load_results("results-converge.json")
