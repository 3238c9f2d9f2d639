"""The controller's Debian packages, installed by scripts/install-system-packages.sh."""

import subprocess
from collections.abc import Callable

from hisguard import paths
from hisguard.errors import UserError


def ensure_packages(log: Callable[[str], None] = print) -> None:
    script = paths.ROOT / "scripts" / "install-system-packages.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    if proc.stdout.strip():
        log(proc.stdout.strip())
    if proc.returncode != 0:
        raise UserError(proc.stderr.strip() or f"{script} failed", exit_code=2)
