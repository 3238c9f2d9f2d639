"""The CLI's contract for bad input: usage and exit 2, no traceback."""

import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hisguard.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    "args", [[], ["no-such-command"], ["lab"], ["lab", "sideways"], ["lab", "up", "--bogus"]]
)
def test_bad_usage_prints_usage_and_exits_2(args):
    proc = run(*args)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_the_command_areas():
    proc = run("--help")
    assert proc.returncode == 0
    for command in (
        "lab",
        "facts",
        "audit",
        "harden",
        "controls",
        "report",
        "history",
        "failover",
        "netconfig",
        "incident",
        "drill",
    ):
        assert f"    {command}" in proc.stdout, command


def test_missing_inventory_is_a_clear_error(tmp_path):
    proc = run("facts", "-i", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert "inventory" in proc.stderr and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
