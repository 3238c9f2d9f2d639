"""Helpers the lab tests share: the CLI as a user runs it, a shell on a lab host, a corrupted restic pack."""

import subprocess
import sys

from hisguard.lab.topology import host


def hisguard(env: dict, *args: str) -> subprocess.CompletedProcess:
    """`hisguard ARGS` in a subprocess; a traceback is always a test failure."""
    proc = subprocess.run(
        [sys.executable, "-m", "hisguard.cli", *args], capture_output=True, text=True, env=env
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def lab_shell(name: str, command: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `command` with bash on the lab host `name` (podman exec, not the controller's SSH)."""
    proc = subprocess.run(
        ["podman", "exec", host(name).container, "bash", "-c", command], capture_output=True, text=True
    )
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def corrupt_largest_pack(repo: str, backup: str) -> str:
    """Shell: copy the restic repository to `backup`, overwrite bytes of its largest pack, drop the cache."""
    largest_pack = f"find {repo}/data -type f -printf '%s %p\\n' | sort -n | tail -1 | cut -d' ' -f2"
    return (
        f"cp -a {repo} {backup} && pack=$({largest_pack}) && chmod u+w $pack && "
        "printf 'CORRUPTED-BY-THE-TEST' | dd of=$pack bs=1 seek=2000 conv=notrunc status=none && "
        "rm -rf /var/cache/hisguard-restic"
    )
