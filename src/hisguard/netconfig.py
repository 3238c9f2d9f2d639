"""Switch configuration backups (playbooks/netconfig_backup.yml) and their git repository.

The repository (var/netconfig, mode 0700, files 0600) holds per switch:
    configs/NAME.cfg       the running config as the device prints it, secrets kept (restorable;
                           ansible-vault encrypted when a vault password file is given, with
                           configs/NAME.cfg.sha256 beside it)
    sanitized/NAME.cfg     the same with passwords, keys and communities masked: for diffs and reports
and gets one commit per backup run that changed anything.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hisguard import paths
from hisguard.errors import UserError
from hisguard.runner import RunResult, run_playbook

MODULE = "switch_config_backup"


@dataclass
class DeviceBackup:
    name: str
    status: str  # first | changed | unchanged | failed
    message: str = ""
    lines: int = 0
    added: int = 0
    removed: int = 0
    diff: list[str] = field(default_factory=list)  # sanitized
    model: str | None = None
    version: str | None = None


@dataclass
class BackupResult:
    devices: dict[str, DeviceBackup]
    commit: str | None  # the new commit, None when nothing changed
    repo: Path
    run: RunResult

    @property
    def ok(self) -> bool:
        return self.run.ok and not any(d.status == "failed" for d in self.devices.values())


@dataclass
class Commit:
    sha: str
    date: str
    subject: str
    files: list[str]


def check_vault_password_file(path: str | Path) -> Path:
    """The resolved path of a vault password file readable by its owner only; UserError otherwise."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"vault password file {path} does not exist")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise UserError(f"vault password file {path} has mode {mode:04o}; run `chmod 600 {path}`")
    return path


def repo_dir() -> Path:
    return paths.var_dir() / "netconfig"


def restorable_file(device: str) -> Path:
    return repo_dir() / "configs" / f"{device}.cfg"


def sanitized_file(device: str) -> Path:
    return repo_dir() / "sanitized" / f"{device}.cfg"


def _git(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", "-C", str(repo_dir()), *args], capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise UserError("git is not installed on the controller (apt-get install git)") from None


def _is_vault(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(15) == b"$ANSIBLE_VAULT;"
    except OSError:
        return False


def head() -> str | None:
    if not (repo_dir() / ".git").is_dir():
        return None
    proc = _git("rev-parse", "--verify", "--quiet", "HEAD")
    return proc.stdout.strip() or None


def backup(
    inventory: str | Path | None = None,
    limit: str | None = None,
    vault_password_file: str | Path | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> BackupResult:
    """Back up every switch of the inventory (or `limit`) and commit the changes."""
    extravars = {}
    if vault_password_file:
        extravars["netconfig_backup_vault_password_file"] = str(
            check_vault_password_file(vault_password_file)
        )
    else:
        encrypted = sorted(p.name for p in (repo_dir() / "configs").glob("*.cfg") if _is_vault(p))
        if encrypted:
            raise UserError(
                f"the backups in {repo_dir() / 'configs'} are ansible-vault encrypted "
                f"({', '.join(encrypted[:3])}{', ...' if len(encrypted) > 3 else ''}): "
                "give --vault-password-file to keep them encrypted"
            )
    before = head()
    devices: dict[str, DeviceBackup] = {}

    def handler(event: dict) -> None:
        if on_event is not None:
            on_event(event)
        data = event.get("event_data", {})
        res = data.get("res")
        if not isinstance(res, dict) or not str(data.get("task_action", "")).endswith(MODULE):
            return
        host = str(data.get("host"))
        if event.get("event") == "runner_on_ok":
            stats = res.get("diff_stats") or {}
            status = (
                "first" if res.get("first_backup") else ("changed" if res.get("changed") else "unchanged")
            )
            devices[host] = DeviceBackup(
                name=host,
                status=status,
                lines=int(res.get("lines") or 0),
                added=int(stats.get("added") or 0),
                removed=int(stats.get("removed") or 0),
                diff=list(res.get("diff") or []),
                model=res.get("model"),
                version=res.get("version"),
            )
        elif event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            devices[host] = DeviceBackup(name=host, status="failed", message=str(res.get("msg", "")))

    run = run_playbook(
        "netconfig_backup.yml", inventory=inventory, limit=limit, extravars=extravars, on_event=handler
    )
    if not devices and not run.ok:
        raise UserError(
            f"the backup did not reach any switch: see {run.artifacts_dir / 'stdout'}", exit_code=1
        )
    if not devices:
        raise UserError(
            "no switch to back up: the inventory's network_devices group is empty"
            + (f" or does not match --limit {limit}" if limit else ""),
        )
    after = head()
    return BackupResult(devices=devices, commit=after if after != before else None, repo=repo_dir(), run=run)


def history(device: str | None = None, count: int = 20) -> list[Commit]:
    """The latest commits of the repository (touching `device` when given), newest first."""
    if head() is None:
        return []
    args = ["log", f"-{count}", "--format=%x1e%H%x1f%cI%x1f%s", "--name-only"]
    if device:
        args += ["--", f"configs/{device}.cfg", f"sanitized/{device}.cfg"]
    proc = _git(*args)
    if proc.returncode != 0:
        raise UserError(f"git log failed in {repo_dir()}: {proc.stderr.strip()}", exit_code=1)
    commits = []
    for record in proc.stdout.split("\x1e"):
        if not record.strip():
            continue
        header, _, files = record.partition("\n")
        sha, date, subject = header.split("\x1f", 2)
        commits.append(Commit(sha=sha, date=date, subject=subject, files=[f for f in files.split() if f]))
    return commits


def diff(commit: str, device: str | None = None) -> str:
    """The sanitized diff of one commit (never the restorable files: they hold secrets)."""
    if not re.match(r"^([0-9a-fA-F]{4,40}|HEAD(~\d{1,4})?)$", commit):
        raise UserError(f"{commit!r} is not a commit id (see `hisguard netconfig history`)")
    if head() is None:
        raise UserError(f"no backups yet in {repo_dir()}: run `hisguard netconfig backup`")
    paths_ = [f"sanitized/{device}.cfg"] if device else ["sanitized/"]
    proc = _git("show", "--format=%H %cI %s", commit, "--", *paths_)
    if proc.returncode != 0:
        raise UserError(f"no commit {commit!r} in {repo_dir()} (see `hisguard netconfig history`)")
    return proc.stdout
