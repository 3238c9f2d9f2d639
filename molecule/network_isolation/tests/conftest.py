"""Hosts and files of the network_isolation scenario, read independently of the role (podman exec)."""

import json
import os
from pathlib import Path

import pytest
import testinfra

MISROUTED = "netiso-ws-misrouted"
GATEWAY = "netiso-gw"
CANARY_IP = "203.0.113.200"
GATEWAY_INTRANET_IP = "10.77.30.2"
INTRANET_SERVICE = "http://10.77.30.2:8080/"
# The same command prepare.yml runs before and after the audit.
STATE_SNAPSHOT = (
    r"find /etc -xdev -printf '%y %#m %u:%g %s %T@ %p -> %l\n' | LC_ALL=C sort && "
    r"find /etc -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum && "
    r"echo '## ip -4 route show table all' && ip -4 route show table all && "
    r"echo '## ip -6 route show table all' && ip -6 route show table all && "
    r"echo '## nft list ruleset' && nft list ruleset"
)


def ephemeral() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


def podman_host(name: str):
    return testinfra.get_host(f"podman://{name}")


@pytest.fixture(scope="session")
def misrouted():
    return podman_host(MISROUTED)


@pytest.fixture(scope="session")
def gateway():
    return podman_host(GATEWAY)


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
    """Written by the idempotence run (the last run of converge.yml); side_effect kept a copy."""
    return load_results("results-idempotence.json")


@pytest.fixture(scope="session")
def reboot_results() -> dict:
    return load_results("results-reboot.json")
