"""Runs any playbook through ansible-runner: a private data dir per run under var/runs/, artifacts kept,
events streamed to a callback. Every CLI command that runs Ansible goes through run_playbook()."""

import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner

from hisguard import paths
from hisguard.errors import UserError

RESULTS_FILE = "hisguard-results.json"


@dataclass
class RunResult:
    ident: str
    playbook: str
    status: str  # ansible-runner's: successful | failed | timeout | canceled
    rc: int
    private_dir: Path
    artifacts_dir: Path
    stats: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "successful"

    @property
    def results_file(self) -> Path:
        """Where the compliance callback writes this run's results."""
        return self.artifacts_dir / RESULTS_FILE


def new_ident() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def resolve_inventory(inventory: str | Path | None) -> Path:
    path = Path(inventory) if inventory else paths.lab_inventory()
    if not path.exists():
        hint = " (run `hisguard lab up` to create the lab's)" if inventory is None else ""
        raise UserError(f"inventory {path} does not exist{hint}")
    return path.resolve()


def run_playbook(
    playbook: str,
    inventory: str | Path | None = None,
    extravars: dict | None = None,
    extravar_files: list[Path] | None = None,
    limit: str | None = None,
    tags: str | None = None,
    check: bool = False,
    on_event: Callable[[dict], None] | None = None,
) -> RunResult:
    """Run playbooks/<playbook> (or an absolute path). Never pass secrets in extravars: they land on disk."""
    play_path = Path(playbook) if Path(playbook).is_absolute() else paths.playbook(playbook)
    if not play_path.is_file():
        raise UserError(f"playbook {play_path} does not exist")
    inv = resolve_inventory(inventory)
    ident = new_ident()
    private_dir = paths.var_dir() / "runs" / ident
    private_dir.mkdir(parents=True, mode=0o700)
    cmdline = ["--check"] if check else []
    for extra in extravar_files or []:
        cmdline += ["--extra-vars", f"@{Path(extra).resolve()}"]
    envvars = {
        "ANSIBLE_CONFIG": str(paths.ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(paths.ROOT / "collections"),
        "ANSIBLE_ROLES_PATH": str(paths.ROOT / "roles"),
        "HISGUARD_RESULTS_FILE": str(private_dir / "artifacts" / ident / RESULTS_FILE),
        "HISGUARD_HOME": str(paths.ROOT),
        "HISGUARD_VAR": str(paths.var_dir()),
        # ansible-playbook and its Python are the venv's, even when the venv is not activated.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    if "CONTAINERS_CONF" in os.environ:
        envvars["CONTAINERS_CONF"] = os.environ["CONTAINERS_CONF"]

    def handler(event: dict) -> bool:
        if on_event is not None:
            on_event(event)
        return True  # keep the event in the artifacts

    runner = ansible_runner.run(
        private_data_dir=str(private_dir),
        project_dir=str(paths.ROOT),
        playbook=str(play_path),
        inventory=str(inv),
        extravars=extravars or {},
        cmdline=" ".join(cmdline) or None,
        limit=limit,
        tags=tags,
        ident=ident,
        envvars=envvars,
        quiet=True,
        event_handler=handler,
        settings={"suppress_ansible_output": True},
    )
    return RunResult(
        ident=ident,
        playbook=play_path.name,
        status=runner.status,
        rc=runner.rc,
        private_dir=private_dir,
        artifacts_dir=Path(runner.config.artifact_dir),
        stats=runner.stats or {},
    )
