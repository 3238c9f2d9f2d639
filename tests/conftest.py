"""Shared test setup: the project's podman config and venv tools for every subprocess."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "src/hisguard/lab/containers.conf"))
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
