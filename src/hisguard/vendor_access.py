"""Vendor remote access (P1.2.5): time-boxed grants of a personal SSH account on one host.

A grant runs playbooks/vendor_access.yml (role vendor_access) on the host, which creates the account,
its key, the session recording and a timer that revokes the grant at its expiry on the host itself.
Every grant and revocation is kept in the store; the host keeps its own record under
/etc/hisguard/vendor-access.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import re
import secrets
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hisguard import paths
from hisguard.errors import UserError
from hisguard.runner import RunResult, resolve_inventory, run_playbook
from hisguard.store import Store

PLAYBOOK = "vendor_access.yml"
ACCOUNT_PREFIX = "v-"
DEFAULT_MAX_DURATION = "24h"
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}
_REVOKE_TASK = "revoke the grant"


def parse_duration(text: str) -> timedelta:
    """'30m', '2h', '1d' -> timedelta; UserError on anything else."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise UserError(
            f"duration must be a positive number of minutes, hours or days, e.g. 30m, 2h, 1d (got {text!r})"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def max_duration() -> timedelta:
    """The longest grant: $HISGUARD_VENDOR_MAX_DURATION (e.g. 8h), default 24h."""
    text = os.environ.get("HISGUARD_VENDOR_MAX_DURATION") or DEFAULT_MAX_DURATION
    try:
        return parse_duration(text)
    except UserError as err:
        raise UserError(f"HISGUARD_VENDOR_MAX_DURATION: {err.message}") from None


def check_duration(text: str) -> timedelta:
    duration, limit = parse_duration(text), max_duration()
    if duration > limit:
        raise UserError(
            f"duration {text} is longer than the maximum of {_human(limit)}: grant less and renew it "
            "if the work takes longer (the maximum is HISGUARD_VENDOR_MAX_DURATION)"
        )
    return duration


def vendor_slug(name: str) -> str:
    """The vendor's name as it appears in the account: lowercase letters and digits, at most 20."""
    slug = re.sub(r"[^a-z0-9]", "", (name or "").lower())[:20]
    if not slug or not slug[0].isalpha():
        raise UserError(f"vendor {name!r} must contain letters (a-z) first, e.g. --vendor acme")
    return slug


def check_text(label: str, value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 200 or any(ch in value for ch in "\r\n\0"):
        raise UserError(f"{label} must be one line of 1 to 200 characters (got {value!r})")
    return value


def check_ip(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        raise UserError(f"--from-ip must be one IPv4 address, e.g. 10.77.10.5 (got {text!r})") from None


def account_name(vendor: str, grant_id: str) -> str:
    return f"{ACCOUNT_PREFIX}{vendor}-{grant_id}"


def inventory_address(inventory: str | Path | None, host: str) -> str:
    """The address of a Linux host of the inventory; UserError for unknown hosts and switches."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    manager = InventoryManager(loader=DataLoader(), sources=[str(resolve_inventory(inventory))])
    found = manager.get_host(host)
    if found is None:
        names = ", ".join(sorted(h.name for h in manager.get_hosts() if "network_devices" not in _groups(h)))
        raise UserError(f"host {host!r} is not in the inventory; known hosts: {names}")
    if "network_devices" in _groups(found):
        raise UserError(f"{host} is a network device: vendor access grants are for Linux hosts")
    return str(found.vars.get("ansible_host", host))


def _groups(host: Any) -> set[str]:
    return {group.name for group in host.get_groups()}


def key_fingerprint(public_key_file: Path) -> str:
    done = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise UserError(f"{public_key_file} is not an OpenSSH public key: {done.stderr.strip()}")
    return done.stdout.split()[1]


def read_public_key(path: str | Path) -> tuple[str, str]:
    """(key line, fingerprint) of a public key file; refuses private keys."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read the public key {path}: {err}") from None
    if "PRIVATE KEY" in text:
        raise UserError(f"{path} is a private key: give the vendor's public key (.pub)")
    if len(text.splitlines()) != 1:
        raise UserError(f"{path} must hold exactly one public key line")
    return text, key_fingerprint(path)


def generate_key(grant_id: str, vendor: str) -> tuple[str, str, Path]:
    """A new ed25519 key pair in var/vendor-access/<grant>/ (0700, key 0600).

    Returns (public key line, fingerprint, private key path)."""
    folder = paths.var_dir() / "vendor-access" / grant_id
    folder.mkdir(parents=True, mode=0o700)
    private = folder / "id_ed25519"
    done = subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"vendor {vendor} grant {grant_id}",
            "-f",
            str(private),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise UserError(f"ssh-keygen failed: {done.stderr.strip()}")
    private.chmod(0o600)
    public = private.with_suffix(".pub")
    return public.read_text(encoding="utf-8").strip(), key_fingerprint(public), private


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass
class GrantOutcome:
    grant: dict[str, Any]
    run: RunResult
    private_key: Path | None

    @property
    def ok(self) -> bool:
        return self.run.ok


def grant(
    host: str,
    vendor: str,
    ticket: str,
    approver: str,
    duration: str,
    from_ip: str | None = None,
    key_file: str | Path | None = None,
    inventory: str | Path | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> GrantOutcome:
    """Open a grant on `host` and store it (also when the run failed, as `failed`)."""
    length = check_duration(duration)
    slug = vendor_slug(vendor)
    ticket, approver = check_text("--ticket", ticket), check_text("--approver", approver)
    address = inventory_address(inventory, host)
    ip = check_ip(from_ip)
    grant_id = secrets.token_hex(4)
    private = None
    if key_file:
        public_key, fingerprint = read_public_key(key_file)
    else:
        public_key, fingerprint, private = generate_key(grant_id, slug)
    granted = datetime.now(UTC).replace(microsecond=0)
    expires = granted + length
    record = {
        "id": grant_id,
        "vendor": slug,
        "vendor_name": vendor.strip(),
        "ticket": ticket,
        "approver": approver,
        "granted_by": getpass.getuser(),
        "granted": _iso(granted),
        "expires": _iso(expires),
        "expires_epoch": int(expires.timestamp()),
        "public_key": public_key,
        "from_ip": ip or "",
    }
    run = run_playbook(
        PLAYBOOK,
        inventory=inventory,
        extravars={
            "vendor_access_hosts": host,
            "vendor_access_action": "grant",
            "vendor_access_grant": record,
        },
        limit=host,
        on_event=on_event,
    )
    stored = {
        **{k: v for k, v in record.items() if k not in ("public_key", "expires_epoch")},
        "host": host,
        "address": address,
        "account": account_name(slug, grant_id),
        "from_ip": ip,
        "key_fingerprint": fingerprint,
        "key_file": str(private) if private else str(Path(key_file).resolve()),
        "outcome": "granted" if run.ok else "failed",
        "runner_ident": run.ident,
    }
    with Store() as store:
        store.save_vendor_grant(stored)
    return GrantOutcome(grant=stored, run=run, private_key=private)


@dataclass
class RevokeOutcome:
    grant: dict[str, Any]
    run: RunResult
    already: bool  # the host had revoked it already (its timer at the expiry, or an earlier revoke)

    @property
    def ok(self) -> bool:
        return self.run.ok


def revoke(
    grant_id: str,
    reason: str = "revoked",
    inventory: str | Path | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> RevokeOutcome:
    """Close a stored grant on its host now, and store the revocation."""
    reason = check_text("--reason", reason)
    with Store() as store:
        row = store.vendor_grant(grant_id)
    if row is None:
        raise UserError(
            f"no vendor access grant {grant_id!r} in the store; `hisguard vendor-access list` shows them"
        )
    changed: list[bool] = []

    def watch(event: dict) -> None:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok" and _REVOKE_TASK in data.get("task", ""):
            changed.append(bool(data.get("res", {}).get("changed")))
        if on_event is not None:
            on_event(event)

    run = run_playbook(
        PLAYBOOK,
        inventory=inventory,
        extravars={
            "vendor_access_hosts": row["host"],
            "vendor_access_action": "revoke",
            "vendor_access_revoke_id": grant_id,
            "vendor_access_revoke_reason": reason,
            "vendor_access_revoke_by": getpass.getuser(),
        },
        limit=row["host"],
        on_event=watch,
    )
    already = run.ok and changed == [False]
    with Store() as store:
        store.save_vendor_revocation(
            {
                "grant_id": grant_id,
                "time": _iso(datetime.now(UTC)),
                "reason": reason,
                "revoked_by": getpass.getuser(),
                "outcome": ("already_revoked" if already else "revoked") if run.ok else "failed",
                "runner_ident": run.ident,
            }
        )
    return RevokeOutcome(grant=row, run=run, already=already)


def grant_status(row: dict[str, Any], now: datetime | None = None) -> str:
    """failed | revoked | expired | active, from a stored grant with its revocations."""
    now = now or datetime.now(UTC)
    if row["outcome"] == "failed":
        return "failed"
    if any(r["outcome"] in ("revoked", "already_revoked") for r in row.get("revocations", [])):
        return "revoked"
    if datetime.fromisoformat(row["expires"]) <= now:
        return "expired"
    return "active"


def list_grants(status: str | None = None) -> list[dict[str, Any]]:
    """Stored grants, newest first, each with its `status`; status filters."""
    with Store() as store:
        rows = store.vendor_grants()
    now = datetime.now(UTC)
    for row in rows:
        row["status"] = grant_status(row, now)
    return [row for row in rows if status in (None, row["status"])]
