"""Where the project's files live: the checkout (also the collection root) and var/."""

import os
from pathlib import Path

# src/hisguard/paths.py -> repository root (the checkout is installed editable into .venv).
ROOT = Path(os.environ.get("HISGUARD_HOME", Path(__file__).resolve().parents[2]))


def var_dir() -> Path:
    """Run-time state: runs, store, lab keys. HISGUARD_VAR overrides."""
    return Path(os.environ.get("HISGUARD_VAR", ROOT / "var"))


def playbook(name: str) -> Path:
    return ROOT / "playbooks" / name


def lab_inventory() -> Path:
    return ROOT / "inventories" / "lab"


def catalog_file() -> Path:
    return ROOT / "controls" / "catalog.yml"
