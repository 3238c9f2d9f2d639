"""`lab down` removes everything the lab started and `lab up` restores it; bad environments exit 2."""

import os
import shutil
import subprocess
import sys

import pytest

from hisguard.lab import lab, podman, switches
from hisguard.lab.topology import LABEL

pytestmark = pytest.mark.lab
HISGUARD = [sys.executable, "-m", "hisguard.cli"]


def test_lab_up_without_root_says_so_and_exits_2():
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *HISGUARD, "lab", "up"],
        capture_output=True,
        text=True,
        env={**os.environ, "HISGUARD_VAR": "/tmp"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "root" in proc.stderr and "Traceback" not in proc.stderr


def test_lab_up_without_podman_says_what_is_missing(tmp_path):
    # A PATH with everything but podman.
    for tool in ("bash", "dpkg-query", "grep", "sed", "sort", "id", "dirname", "sysctl"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    proc = subprocess.run(
        [*HISGUARD, "lab", "up"], capture_output=True, text=True, env={**os.environ, "PATH": str(tmp_path)}
    )
    assert proc.returncode == 2
    assert "podman is not installed" in proc.stderr and "Traceback" not in proc.stderr


def test_down_removes_every_container_network_and_switch_then_up_restores():
    lab.up(log=lambda _msg: None)
    lab.down(log=lambda _msg: None)
    assert podman.names("container", LABEL) == []
    assert podman.names("network", LABEL) == []
    assert not any(switches.status(lab.state_dir()).values())
    assert not list((lab.state_dir() / "switches").glob("*.pid"))
    assert lab.down(log=lambda _msg: None) == [], "a second down has nothing to remove"
    changed = lab.up(log=lambda _msg: None)
    assert "ws-01" in changed and "switch core-sw-01" in changed
    assert all(r.reachable for r in lab.status())
    assert lab.up(log=lambda _msg: None) == []
