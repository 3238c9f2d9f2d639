#!/usr/bin/python3
# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Read-only probe of hisguard.infosec.log_review (每周检查服务器日志, P2.4.10, P2.5.2): prints one JSON
document.

Input (one JSON argument): {"since": epoch, "until": epoch, "max_lines": N}. Collects, for that period:
- auth_failures: failed logins (sshd "Failed password/publickey", "Invalid user", PAM "authentication
  failure", su/login failures, too many attempts) from the journal's auth/authpriv facilities, else
  /var/log/auth.log
- sudo: sudo commands run (and sudo refusals)
- new_accounts: accounts and groups created (useradd/groupadd "new user"/"new group")
- failed_units: units systemd lists as failed now (`systemctl --failed`)
- kernel_errors: kernel messages of priority err or worse (`journalctl -k -p err`); a container sees no kernel
  log, which is reported (kernel_log_visible false) rather than shown as "no errors"
Each category keeps its count and the last max_lines lines. Standard library only, Python 3.8+.
The pure functions are unit-tested (tests/unit/test_log_review_probe.py).
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import sys

CATEGORIES = ("auth_failures", "sudo", "new_accounts", "failed_units", "kernel_errors")
AUTH_FAILURE = re.compile(
    r"(Failed (password|publickey|keyboard-interactive\S*) for|^Invalid user |authentication failure"
    r"|FAILED SU|FAILED LOGIN|maximum authentication attempts exceeded|Disconnecting invalid user)"
)
SUDO = re.compile(r"(COMMAND=|incorrect password attempts|user NOT in sudoers|command not allowed)")
NEW_ACCOUNT = re.compile(r"^new (user|group): name=")
AUTH_LOG_STAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?)\s+\S+\s+(.*)$"
)
AUTH_LOG_TAG = re.compile(r"^([\w.@-]+)(?:\[\d+\])?:\s?(.*)$")


def run(argv, timeout=60):
    if shutil.which(argv[0]) is None:
        return 127, "", f"{argv[0]}: not found"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]}: timed out"
    return proc.returncode, proc.stdout, proc.stderr


def classify(identifier, message):
    """The category of one auth/authpriv log message, or None."""
    if identifier in ("useradd", "groupadd", "adduser") and NEW_ACCOUNT.search(message):
        return "new_accounts"
    if identifier == "sudo" and SUDO.search(message):
        return "sudo"
    if AUTH_FAILURE.search(message):
        return "auth_failures"
    return None


UTC = datetime.timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11, the host may be older


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, UTC).replace(microsecond=0).isoformat()


def journal_entries(text):
    """(epoch, identifier, message) from `journalctl -o json`."""
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # non-UTF-8 messages come as byte arrays
            message = bytes(message).decode("utf-8", "replace")
        try:
            epoch = int(entry["__REALTIME_TIMESTAMP"]) / 1e6
        except (KeyError, ValueError):
            continue
        yield epoch, entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or "?", str(message or "")


def auth_log_entries(text):
    """(epoch, identifier, message) from an rsyslog auth.log with RFC 3339 time stamps (Debian 12)."""
    for line in text.splitlines():
        match = AUTH_LOG_STAMP.match(line)
        if not match:
            continue
        try:
            moment = datetime.datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.astimezone()
        tag = AUTH_LOG_TAG.match(match.group(2))
        if tag:
            yield moment.timestamp(), tag.group(1), tag.group(2)


def collect(entries, since, until, max_lines):
    found = {name: {"count": 0, "lines": []} for name in ("auth_failures", "sudo", "new_accounts")}
    for epoch, identifier, message in entries:
        if not since <= epoch < until:
            continue
        category = classify(identifier, message)
        if category:
            found[category]["count"] += 1
            found[category]["lines"].append({"time": iso(epoch), "text": f"{identifier}: {message}"})
    for category in found.values():
        category["lines"] = category["lines"][-max_lines:]
    return found


def parse_failed_units(text):
    return [line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith(" ")]


def read_auth(since, until, max_lines):
    rc, out, err = run(
        [
            "journalctl",
            "--no-pager",
            "-q",
            "-o",
            "json",
            f"--since=@{int(since)}",
            f"--until=@{int(until)}",
            "SYSLOG_FACILITY=4",
            "SYSLOG_FACILITY=10",
        ]
    )
    if rc == 0 and out.strip():
        return "journal", collect(journal_entries(out), since, until, max_lines), None
    try:
        with open("/var/log/auth.log", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as err_file:
        problem = (err or "").strip() or "the journal holds no auth entries"
        return "none", collect([], since, until, max_lines), f"{problem}; /var/log/auth.log: {err_file}"
    return "auth.log", collect(auth_log_entries(text), since, until, max_lines), None


def read_kernel(since, until, max_lines):
    rc, out, _ = run(["journalctl", "-k", "-q", "--no-pager", "-n", "1"])
    visible = rc == 0 and bool(out.strip())
    rc, out, _ = run(
        [
            "journalctl",
            "-k",
            "-q",
            "--no-pager",
            "-p",
            "err",
            "-o",
            "short-iso",
            f"--since=@{int(since)}",
            f"--until=@{int(until)}",
        ]
    )
    lines = [line for line in out.splitlines() if line.strip()] if rc == 0 else []
    return visible or bool(lines), {
        "count": len(lines),
        "lines": [{"time": "", "text": x} for x in lines[-max_lines:]],
    }


def main(argv):
    try:
        config = json.loads(argv[1])
        since, until = float(config["since"]), float(config["until"])
        max_lines = int(config.get("max_lines", 200))
        if since >= until:
            raise ValueError("since must be before until")
    except (IndexError, KeyError, ValueError, TypeError) as err:
        print(f"usage: log_review_probe.py JSON with since and until (epochs): {err}", file=sys.stderr)
        return 2
    source, found, problem = read_auth(since, until, max_lines)
    rc, out, err = run(["systemctl", "--failed", "--plain", "--no-legend", "--no-pager"])
    units = parse_failed_units(out) if rc == 0 else []
    found["failed_units"] = {"count": len(units), "lines": [{"time": "", "text": u} for u in units]}
    visible, found["kernel_errors"] = read_kernel(since, until, max_lines)
    notes = []
    if problem:
        notes.append(f"authentication log not readable: {problem}")
    if rc != 0:
        notes.append(f"systemctl --failed failed: {(err or out).strip()[:200]}")
    if not visible:
        notes.append("no kernel log is visible here (a container: the kernel belongs to its host)")
    counts = {name: found[name]["count"] for name in CATEGORIES}
    json.dump(
        {
            "since": iso(since),
            "until": iso(until),
            "source": source,
            "kernel_log_visible": visible,
            "categories": found,
            "counts": counts,
            "notes": notes,
            "collected": problem is None,
            "summary": ", ".join(f"{name} {count}" for name, count in counts.items()),
        },
        sys.stdout,
        ensure_ascii=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
