#!/usr/bin/python3
"""hisguard vendor_access (P1.2.5), read-only: vendor accounts, keys, firewall openings and revoke
timers on this host, compared with the grants recorded on it. Prints one JSON object.
Usage: read-vendor-access.py ACCOUNT_PREFIX GROUP
"""

import glob
import grp
import json
import os
import pwd
import subprocess
import sys
import time

STATE_DIR = "/etc/hisguard/vendor-access"
KEYS_DIR = "/etc/ssh/hisguard-vendor-keys"
SYSTEMD_DIR = "/etc/systemd/system"
SESSION_WRAPPER = "/usr/local/sbin/hisguard-vendor-session"
# Seconds after the expiry a grant may take to close (its timer, else the sweep every 5 minutes).
GRACE = 360


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


def grants() -> list[dict]:
    found = []
    for path in sorted(glob.glob(os.path.join(STATE_DIR, "*.json"))):
        try:
            with open(path, encoding="utf-8") as handle:
                found.append(json.load(handle))
        except (OSError, ValueError) as err:
            found.append({"id": os.path.basename(path), "error": str(err), "expires_epoch": 0})
    return found


def vendor_accounts(prefix: str, group: str) -> list[str]:
    try:
        members = set(grp.getgrnam(group).gr_mem)
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        members, gid = set(), None
    return sorted(
        p.pw_name
        for p in pwd.getpwall()
        if p.pw_name.startswith(prefix) or p.pw_name in members or (gid is not None and p.pw_gid == gid)
    )


def openings() -> list[str]:
    done = run("nft", "-j", "list", "set", "inet", "hisguard_vendor_access", "openings")
    if done.returncode != 0:
        return []
    for item in json.loads(done.stdout).get("nftables", []):
        if "set" in item:
            return sorted(e["elem"]["val"] if isinstance(e, dict) else e for e in item["set"].get("elem", []))
    return []


def force_command(user: str) -> str:
    done = run("sshd", "-T", "-C", f"user={user},host=vendor,addr=127.0.0.1")
    for line in done.stdout.splitlines():
        if line.lower().startswith("forcecommand "):
            return line.split(" ", 1)[1]
    return ""


def main() -> int:
    prefix, group = sys.argv[1], sys.argv[2]
    now = time.time()
    all_grants = grants()
    active = [g for g in all_grants if g.get("expires_epoch", 0) + GRACE > now]
    overdue = [g for g in all_grants if g.get("expires_epoch", 0) + GRACE <= now]
    active_users = {g.get("user") for g in active}
    active_ips = {g.get("from_ip") for g in active if g.get("from_ip")}
    accounts = vendor_accounts(prefix, group)
    keys = sorted(os.listdir(KEYS_DIR)) if os.path.isdir(KEYS_DIR) else []
    opened = openings()
    timers = sorted(
        os.path.basename(t) for t in glob.glob(os.path.join(SYSTEMD_DIR, "hisguard-vendor-revoke-*.timer"))
    )
    problems = []
    for user in accounts:
        if user not in active_users:
            problems.append(f"vendor account {user} exists without an active grant")
    for user in keys:
        if user not in active_users:
            problems.append(f"vendor SSH key {KEYS_DIR}/{user} exists without an active grant")
    for address in opened:
        if address not in active_ips:
            problems.append(f"firewall opening for {address} exists without an active grant")
    for grant in overdue:
        problems.append(
            f"grant {grant.get('id')} ({grant.get('user')}) expired at {grant.get('expires')} "
            "but was not revoked: its timer did not run"
        )
    for grant in active:
        if f"hisguard-vendor-revoke-{grant['id']}.timer" not in timers:
            problems.append(f"active grant {grant['id']} has no revoke timer: it would not close by itself")
        if grant.get("user") in accounts and force_command(grant["user"]) != SESSION_WRAPPER:
            problems.append(
                f"sessions of {grant['user']} are not recorded (sshd ForceCommand is not {SESSION_WRAPPER})"
            )
    summary = {
        "active_grants": [
            {k: g.get(k) for k in ("id", "user", "vendor", "ticket", "approver", "expires", "from_ip")}
            for g in active
        ],
        "overdue_grants": [g.get("id") for g in overdue],
        "vendor_accounts": accounts,
        "key_files": keys,
        "openings": opened,
        "timers": timers,
        "revoked_grants": len(glob.glob(os.path.join(STATE_DIR, "revoked", "*.json"))),
        "problems": problems,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
