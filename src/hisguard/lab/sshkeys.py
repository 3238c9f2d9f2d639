"""SSH material the controller owns for the lab: its client key and one host key per lab host."""

import subprocess
from pathlib import Path


def ensure_key(path: Path, comment: str) -> Path:
    """An ed25519 key pair at `path` (0600), created once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True
        )
    path.chmod(0o600)
    return path


def public(path: Path) -> str:
    return path.with_name(path.name + ".pub").read_text().strip()


def known_hosts_line(address: str, host_key: Path) -> str:
    kind, blob = public(host_key).split()[:2]
    return f"{address} {kind} {blob}"
