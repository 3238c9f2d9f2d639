"""Thin wrapper around the podman CLI, with the project's containers.conf."""

import json
import os
import shutil
import subprocess
from pathlib import Path

from hisguard.errors import UserError

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")


def env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def check_usable() -> None:
    """Podman needs root here (rootful networks and systemd containers)."""
    if os.geteuid() != 0:
        raise UserError("the lab needs root (rootful podman, networks, systemd containers): run as root")
    if shutil.which("podman") is None:
        raise UserError(
            "podman is not installed: run `make setup` (installs podman and the lab's Debian packages)"
        )
    probe = subprocess.run(
        ["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], env=env(), capture_output=True, text=True
    )
    if probe.returncode != 0:
        raise UserError(f"podman cannot run here: {last_line(probe.stderr)}")


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if "87-podman-bridge" not in ln]
    return lines[-1] if lines else "(no message)"


def run(
    *args: str, check: bool = True, input: bytes | str | None = None, capture: bool = True
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["podman", *args], env=env(), input=input, capture_output=capture, text=not isinstance(input, bytes)
    )
    if check and proc.returncode != 0:
        err = proc.stderr if isinstance(proc.stderr, str) else (proc.stderr or b"").decode(errors="replace")
        raise UserError(f"podman {args[0]} {args[1] if len(args) > 1 else ''} failed: {last_line(err)}")
    return proc


def exists(kind: str, name: str) -> bool:
    """kind: container | network | image."""
    return run(kind, "exists", name, check=False).returncode == 0


def inspect(name: str) -> dict | None:
    proc = run("container", "inspect", name, check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)[0]


def names(kind: str, label: str) -> list[str]:
    """Names of containers or networks carrying `label`."""
    if kind == "container":
        proc = run("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}")
    else:
        proc = run("network", "ls", "--filter", f"label={label}", "--format", "{{.Name}}")
    return [ln for ln in proc.stdout.split() if ln]
