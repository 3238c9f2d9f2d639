"""Hosts and files of the backup scenario, read independently of the role (podman exec)."""

import json
import os
from pathlib import Path

import pytest
import testinfra

HIS = "backup-his"
PLAIN = "backup-plain"
TARGET = "backup-target"
PASSWORD = "molecule-backup-pw-7c1e9a"  # molecule.yml group_vars (stands for a vault variable)
PASSWORD_FILE = "/etc/hisguard/backup/restic.pass"
REPOSITORY = "/var/backups/hisguard/restic"
STATUS_FILE = "/var/lib/hisguard/backup/status.json"


def ephemeral() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


@pytest.fixture(scope="session")
def his():
    return testinfra.get_host(f"podman://{HIS}")


@pytest.fixture(scope="session")
def plain():
    return testinfra.get_host(f"podman://{PLAIN}")


@pytest.fixture(scope="session")
def target():
    return testinfra.get_host(f"podman://{TARGET}")


def load_results(name: str) -> dict:
    document = json.loads((ephemeral() / name).read_text(encoding="utf-8"))
    assert document["schema"] == "hisguard.results/1"
    return document


def only_result(document: dict, host: str, control: str) -> dict:
    found = [r for r in document["results"] if r["host"] == host and r["control"] == control]
    assert len(found) == 1, f"expected one {control} result for {host}, got {len(found)}"
    return found[0]


def restic_json(host, *args: str) -> object:
    """restic run on the host itself with the role's password file (read-only: --no-lock)."""
    command = " ".join(["restic", "--no-lock", "--json", *args])
    out = host.check_output(f"RESTIC_PASSWORD_FILE={PASSWORD_FILE} {command}")
    return json.loads(out)
