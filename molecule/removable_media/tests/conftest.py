"""Hosts and files of the removable_media scenario, read independently of the role (podman exec)."""

import json
import os
from pathlib import Path

import pytest
import testinfra

ENFORCED = "removable-media-enforce"
AUDITED = "removable-media-audit"
# Type, mode, owner, size, mtime and link target of every entry in /etc, then every file's hash
# (the same command prepare.yml runs before and after the audit).
ETC_SNAPSHOT = (
    r"find /etc -xdev -printf '%y %#m %u:%g %s %T@ %p -> %l\n' | LC_ALL=C sort && "
    r"find /etc -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"
)


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


def only_result(document: dict, host: str, control: str = "P1.3.6") -> dict:
    """The one result of (host, control); a role must not emit two."""
    found = [r for r in document["results"] if r["host"] == host and r["control"] == control]
    assert len(found) == 1, f"expected one {control} result for {host}, got {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def etc_snapshots() -> dict:
    """{host: {before, after}}: /etc around prepare.yml's audit run."""
    return json.loads((ephemeral() / "etc-snapshots.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def audit_results() -> dict:
    return load_results("results-audit.json")


@pytest.fixture(scope="session")
def converge_results() -> dict:
    return load_results("results-converge.json")
