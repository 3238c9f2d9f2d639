#!/usr/bin/python3
# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Read-only probe of hisguard.infosec.inspection (机房巡检, P2.4.2, P2.4.5, P2.4.8, P2.6.8, P2.7.3).

Run by the role with ansible.builtin.script: one JSON argument in, one JSON document out on stdout;
bad input is a message on stderr and exit code 2. Standard library only, Python 3.8+.

Input: {"kind": "daily"|"monthly", "now": epoch, "ups": [names served on this host], "services": [units],
"disk_warn_percent", "disk_alarm_percent", "ups_min_charge", "ups_min_runtime", "ups_max_load",
"backup_status_file", "backup_max_age_hours", "max_uptime_days", "hardware": {purchased, lifetime_years}|null,
"replacement_notice_days"}.
Output: {"items": [{item, subject, control, status, summary, detail}], "controls": {control: {status,
observed}}}. Item status: ok | warning | alarm | not_applicable | error; a control errors on an error,
fails on an alarm, is not applicable when all its items are, passes when at least one item is ok (warnings
listed) and fails when only warnings are left (nothing confirmed, e.g. no backup configured).

Daily items: ups (upsc), services (systemctl show), disk (statvfs of each real mount), backup (the backup
role's status file). Monthly items: smart (smartctl), fs_errors (kernel log), uptime, hardware_age.
With {"switch": name, "facts": switch_facts result | "error": message} (run on the controller) the items are
the switch's (answers, interfaces enabled, uplinks) and, monthly, its hardware_age.
The pure functions are unit-tested (tests/unit/test_inspection_probe.py).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys

CONTROLS = {
    "ups": "P2.7.3",
    "services": "P2.4.8",
    "disk": "P2.4.8",
    "switch": "P2.4.8",
    "backup": "P2.6.8",
    "smart": "P2.4.2",
    "fs_errors": "P2.4.2",
    "uptime": "P2.4.2",
    "hardware_age": "P2.4.5",
}
PSEUDO_FS = {
    "proc",
    "sysfs",
    "tmpfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "mqueue",
    "securityfs",
    "debugfs",
    "tracefs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "nsfs",
    "squashfs",
    "efivarfs",
    "ramfs",
    "shm",
    "overlay_ro",
}
# ups.status flags (NUT): on battery, low battery, replace battery, overload, bypass, off, forced shutdown.
UPS_ALARM_FLAGS = {
    "OB": "on battery",
    "LB": "low battery",
    "RB": "replace battery",
    "OVER": "overloaded",
    "BYPASS": "on bypass",
    "OFF": "off",
    "FSD": "forced shutdown",
}
NO_KERNEL_LOG = "no kernel log is visible here (a container: the kernel belongs to its host); check the host"
FS_ERROR = re.compile(
    r"(EXT[234]-fs (error|warning)|XFS \(.*\): (corrupt|metadata|.*error)|Btrfs.*error"
    r"|I/O error|Buffer I/O error|blk_update_request)",
    re.IGNORECASE,
)


def item(name, subject, status, summary, /, **detail):
    return {
        "item": name,
        "subject": subject,
        "control": CONTROLS[name],
        "status": status,
        "summary": summary,
        "detail": detail,
    }


def run(argv, timeout=30):
    """(rc, stdout, stderr); rc 127 when the program is missing."""
    if shutil.which(argv[0]) is None:
        return 127, "", f"{argv[0]}: not found"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]}: timed out after {timeout} s"
    return proc.returncode, proc.stdout, proc.stderr


# ------------------------------------------------------------------------------------------ UPS
def parse_upsc(text):
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            values[key.strip()] = value.strip()
    return values


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def check_ups(name, values, min_charge, min_runtime, max_load):
    """One ups item from upsc's variables."""
    flags = (values.get("ups.status") or "").split()
    charge, runtime, load = (
        _number(values.get(k)) for k in ("battery.charge", "battery.runtime", "ups.load")
    )
    detail = {
        "ups_status": " ".join(flags),
        "charge": charge,
        "runtime_seconds": runtime,
        "load": load,
        "model": values.get("device.model") or values.get("ups.model"),
        "input_voltage": _number(values.get("input.voltage")),
    }
    if not flags:
        return item("ups", name, "error", f"UPS {name}: no ups.status reported", **detail)
    problems = [f"{UPS_ALARM_FLAGS[f]} ({f})" for f in flags if f in UPS_ALARM_FLAGS]
    if charge is not None and charge < min_charge:
        problems.append(f"battery charge {charge:g}% < {min_charge:g}%")
    if runtime is not None and runtime < min_runtime:
        problems.append(f"runtime {runtime:g} s < {min_runtime:g} s")
    if load is not None and load > max_load:
        problems.append(f"load {load:g}% > {max_load:g}%")
    figures = ", ".join(
        text
        for text in (
            f"charge {charge:g}%" if charge is not None else "",
            f"runtime {runtime:g} s" if runtime is not None else "",
            f"load {load:g}%" if load is not None else "",
        )
        if text
    )
    if problems:
        return item(
            "ups", name, "alarm", f"UPS {name} {' '.join(flags)}: {'; '.join(problems)} ({figures})", **detail
        )
    return item("ups", name, "ok", f"UPS {name} {' '.join(flags)} ({figures})", **detail)


def probe_ups(names, config):
    items = []
    for name in names:
        target = name if "@" in name else f"{name}@localhost"
        rc, out, err = run(["upsc", target])
        if rc != 0:
            items.append(
                item("ups", name, "error", f"UPS {name}: upsc {target} failed: {(err or out).strip()[:200]}")
            )
            continue
        items.append(
            check_ups(
                name,
                parse_upsc(out),
                config["ups_min_charge"],
                config["ups_min_runtime"],
                config["ups_max_load"],
            )
        )
    return items


# ------------------------------------------------------------------------------------- services
def parse_systemctl_show(text):
    """`systemctl show -p Id,LoadState,ActiveState,SubState u1 u2`: blocks separated by blank lines."""
    units, current = [], {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if current:
                units.append(current)
            current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    return units


def check_services(requested, units):
    states = {unit: {} for unit in requested}
    for props, unit in zip(units, requested, strict=False):
        states[unit] = props
    down, detail = [], {}
    for unit in requested:
        props = states.get(unit) or {}
        load, active, sub = (
            props.get("LoadState", "?"),
            props.get("ActiveState", "?"),
            props.get("SubState", "?"),
        )
        detail[unit] = f"{active} ({sub})" if load == "loaded" else load
        if load != "loaded":
            down.append(f"{unit} is {load}")
        elif active != "active":
            down.append(f"{unit} is {active} ({sub})")
    if down:
        return item("services", "systemd", "alarm", "; ".join(down), units=detail)
    return item("services", "systemd", "ok", "running: " + ", ".join(requested), units=detail)


def probe_services(requested):
    if not requested:
        return []
    units = [u if "." in u else u + ".service" for u in requested]
    rc, out, err = run(["systemctl", "show", "--no-pager", "-p", "LoadState,ActiveState,SubState", *units])
    if rc != 0:
        return [item("services", "systemd", "error", f"systemctl show failed: {(err or out).strip()[:200]}")]
    return [check_services(requested, parse_systemctl_show(out))]


# ----------------------------------------------------------------------------------------- disk
def real_mounts(mounts_text):
    """(mount point, fs type, source) of the mounts that hold data, from /proc/self/mounts."""
    found = []
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[2] in PSEUDO_FS:
            continue
        point = fields[1].replace("\\040", " ")
        found.append((point, fields[2], fields[0]))
    return found


def usage_percent(total_blocks, free_blocks, avail_blocks):
    """As df computes Use%: used / (used + available to users), rounded up."""
    used = total_blocks - free_blocks
    denominator = used + avail_blocks
    if denominator <= 0:
        return 0
    return -(-used * 100 // denominator)


def check_disk(point, percent, inode_percent, warn, alarm, fstype):
    worst = max(percent, inode_percent)
    status = "alarm" if worst >= alarm else "warning" if worst >= warn else "ok"
    text = f"{point} {percent}% used, inodes {inode_percent}%"
    if status != "ok":
        text += f" (threshold {warn}%/{alarm}%)"
    return item(
        "disk", point, status, text, used_percent=percent, inodes_percent=inode_percent, fstype=fstype
    )


def probe_disk(config):
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        mounts = real_mounts(handle.read())
    items, seen = [], set()
    for point, fstype, _source in mounts:
        try:
            if not os.path.isdir(point):
                continue  # a bind-mounted file (/etc/hosts in containers)
            st = os.statvfs(point)
            device = os.stat(point).st_dev
        except OSError:
            continue
        if device in seen or st.f_blocks == 0:
            continue
        seen.add(device)
        percent = usage_percent(st.f_blocks, st.f_bfree, st.f_bavail)
        inodes = usage_percent(st.f_files, st.f_ffree, st.f_favail) if st.f_files else 0
        items.append(
            check_disk(
                point, percent, inodes, config["disk_warn_percent"], config["disk_alarm_percent"], fstype
            )
        )
    return items or [item("disk", "-", "error", "no data file system found in /proc/self/mounts")]


# --------------------------------------------------------------------------------------- backup
def check_backup(status, now, max_age_hours, path):
    """One backup item from the backup role's status file (None when absent)."""
    if status is None:
        return item("backup", path, "warning", f"no backup configured on this host ({path} is absent)")
    last = status.get("last_success") or {}
    last_run = status.get("last_run") or {}
    detail = {
        "last_success": last.get("time"),
        "snapshot": last.get("short_id"),
        "last_run": last_run.get("result"),
    }
    if not last.get("epoch"):
        return item("backup", path, "alarm", "no successful backup is recorded", **detail)
    age_hours = round((now - float(last["epoch"])) / 3600, 1)
    detail["age_hours"] = age_hours
    text = f"last good backup {last.get('time')} ({age_hours} h ago), snapshot {last.get('short_id')}"
    if age_hours > max_age_hours:
        return item("backup", path, "alarm", f"{text}: older than {max_age_hours} h", **detail)
    if last_run.get("result") not in (None, "success"):
        error = last_run.get("error") or {}
        return item(
            "backup",
            path,
            "warning",
            f"{text}; the latest run {last_run.get('result')}: {error.get('message', '')}".strip(),
            **detail,
        )
    return item("backup", path, "ok", text, **detail)


def probe_backup(config, now):
    path = config["backup_status_file"]
    try:
        with open(path, encoding="utf-8") as handle:
            status = json.load(handle)
    except FileNotFoundError:
        status = None
    except (OSError, ValueError) as err:
        return [item("backup", path, "error", f"{path} cannot be read: {err}")]
    return [check_backup(status, now, config["backup_max_age_hours"], path)]


# -------------------------------------------------------------------------------------- monthly
def check_smart(scan_rc, scan_out, health):
    """smart items from `smartctl --scan` and {device: (rc, `smartctl -H` output)}."""
    if scan_rc == 127:
        return [item("smart", "-", "not_applicable", "smartctl is not installed")]
    devices = [line.split()[0] for line in scan_out.splitlines() if line.strip() and not line.startswith("#")]
    if not devices:
        return [
            item(
                "smart",
                "-",
                "not_applicable",
                "no disk with SMART is visible here (a container or a virtual disk): check the host's disks",
            )
        ]
    items = []
    for device in devices:
        rc, out = health.get(device, (1, ""))
        if re.search(r"(PASSED|Health Status: OK)", out):
            items.append(item("smart", device, "ok", f"{device}: SMART health PASSED"))
        elif re.search(r"FAILED|FAILING", out) or rc & 0b1000:
            items.append(item("smart", device, "alarm", f"{device}: SMART health FAILED, replace the disk"))
        else:
            items.append(
                item("smart", device, "not_applicable", f"{device}: no SMART health reported (rc {rc})")
            )
    return items


def probe_smart():
    rc, out, _ = run(["smartctl", "--scan"])
    health = {}
    if rc == 0:
        for line in out.splitlines():
            if line.strip() and not line.startswith("#"):
                device = line.split()[0]
                drc, dout, _ = run(["smartctl", "-H", device])
                health[device] = (drc, dout)
    return check_smart(rc, out if rc == 0 else "", health)


def check_fs_errors(kernel_lines, visible):
    if not visible:
        return item("fs_errors", "kernel", "not_applicable", NO_KERNEL_LOG)
    errors = [line for line in kernel_lines if FS_ERROR.search(line)]
    if errors:
        return item(
            "fs_errors",
            "kernel",
            "alarm",
            f"{len(errors)} file-system or disk error(s) in the kernel log in 31 days",
            lines=errors[-20:],
        )
    return item("fs_errors", "kernel", "ok", "no file-system or disk errors in the kernel log in 31 days")


def probe_fs_errors():
    rc, out, _ = run(["journalctl", "-k", "-q", "--no-pager", "-o", "short-iso", "--since", "-31d"])
    lines = [line for line in out.splitlines() if line.strip()] if rc == 0 else []
    if not lines:
        drc, dout, _ = run(["dmesg", "--ctime"])
        lines = [line for line in dout.splitlines() if line.strip()] if drc == 0 else []
    return [check_fs_errors(lines, bool(lines))]


def check_uptime(kernel_seconds, max_days):
    days = round(kernel_seconds / 86400, 1)
    if days > max_days:
        return item(
            "uptime",
            "kernel",
            "warning",
            f"up {days} days, more than {max_days}: kernel updates are not applied without a reboot",
            days=days,
        )
    return item("uptime", "kernel", "ok", f"up {days} days", days=days)


def probe_uptime(config):
    with open("/proc/uptime", encoding="utf-8") as handle:
        seconds = float(handle.read().split()[0])
    return [check_uptime(seconds, config["max_uptime_days"])]


def check_hardware_age(entry, today, notice_days):
    """hardware_age from a purchase-register entry {purchased: YYYY-MM-DD, lifetime_years, asset?}."""
    if not entry:
        return item(
            "hardware_age", "-", "not_applicable", "not in the purchase-date register (inspection_hardware)"
        )
    try:
        purchased = datetime.date.fromisoformat(str(entry["purchased"]))
        years = float(entry.get("lifetime_years") or 0)
    except (KeyError, TypeError, ValueError) as err:
        return item("hardware_age", "-", "error", f"bad register entry {entry!r}: {err}")
    due = purchased + datetime.timedelta(days=round(years * 365.25))
    subject = str(entry.get("asset") or "-")
    detail = {"purchased": purchased.isoformat(), "due": due.isoformat(), "lifetime_years": years}
    age = round((today - purchased).days / 365.25, 1)
    if today >= due:
        return item(
            "hardware_age",
            subject,
            "alarm",
            f"{age} years old, replacement was due {due}: plan it now",
            **detail,
        )
    if (due - today).days <= notice_days:
        return item(
            "hardware_age",
            subject,
            "warning",
            f"{age} years old, replacement due {due}: put it in the plan",
            **detail,
        )
    return item("hardware_age", subject, "ok", f"{age} years old, replacement due {due}", **detail)


# ------------------------------------------------------------------------------------- switches
def check_switch(name, facts, error):
    """The switch item from hisguard.infosec.switch_facts (facts) or its failure message (error)."""
    if error:
        return item("switch", name, "alarm", f"{name} does not answer: {error}")
    interfaces = facts.get("interfaces") or {}
    down = sorted(n for n, i in interfaces.items() if i.get("shutdown"))
    uplinks = facts.get("uplinks") or {}
    primary, backup = uplinks.get("primary"), uplinks.get("backup")
    detail = {
        "model": facts.get("model"),
        "serial": facts.get("serial"),
        "version": facts.get("version"),
        "interfaces": len(interfaces),
        "admin_down": down,
        "uplinks": uplinks,
    }
    text = f"{name} answers ({facts.get('model') or '?'} {facts.get('version') or ''}".rstrip() + ")"
    text += f"; {len(interfaces) - len(down)} of {len(interfaces)} interfaces enabled"

    def state(link):
        if not link.get("present"):
            return "missing"
        return "shut" if link.get("shutdown") else "up"

    if primary is None:
        return item("switch", name, "ok", text, **detail)
    text += f"; primary uplink {primary['port']} {state(primary)}"
    if backup is not None:
        text += f", backup {backup['port']} {state(backup)}"
    if state(primary) == "up":
        return item("switch", name, "ok", text, **detail)
    if backup is not None and state(backup) == "up":
        return item("switch", name, "warning", text + ": running on the backup uplink (failover)", **detail)
    return item("switch", name, "alarm", text + ": no uplink is up", **detail)


# ------------------------------------------------------------------------------------- verdicts
def verdicts(items):
    """Per control: status (pass | fail | error | not_applicable) and the observed lines."""
    by_control = {}
    for entry in items:
        by_control.setdefault(entry["control"], []).append(entry)
    result = {}
    for control, entries in by_control.items():
        states = {e["status"] for e in entries}
        if "error" in states:
            status = "error"
        elif "alarm" in states:
            status = "fail"
        elif states == {"not_applicable"}:
            status = "not_applicable"
        elif "ok" in states:
            status = "pass"
        else:
            status = "fail"  # only warnings: nothing was confirmed (e.g. no backup configured)
        order = {"error": 0, "alarm": 1, "warning": 2, "ok": 3, "not_applicable": 4}
        observed = [
            f"[{e['status']}] {e['summary']}" for e in sorted(entries, key=lambda e: order[e["status"]])
        ]
        result[control] = {"status": status, "observed": observed}
    return result


def probe(config):
    now = float(config.get("now") or datetime.datetime.now().timestamp())
    today = datetime.datetime.fromtimestamp(now).date()
    items = []
    if "switch" in config:
        items.append(check_switch(config["switch"], config.get("facts") or {}, config.get("error")))
        if config["kind"] == "monthly":
            items[0]["control"] = "P2.4.2"  # the monthly equipment check
            items.append(check_hardware_age(config.get("hardware"), today, config["replacement_notice_days"]))
    elif config["kind"] == "daily":
        items += probe_ups(config.get("ups") or [], config)
        items += probe_services(config.get("services") or [])
        items += probe_disk(config)
        items += probe_backup(config, now)
    else:
        items += probe_smart()
        items += probe_fs_errors()
        items += probe_uptime(config)
        items.append(check_hardware_age(config.get("hardware"), today, config["replacement_notice_days"]))
    return {"items": items, "controls": verdicts(items)}


DEFAULTS = {
    "disk_warn_percent": 80,
    "disk_alarm_percent": 90,
    "ups_min_charge": 50,
    "ups_min_runtime": 300,
    "ups_max_load": 80,
    "backup_status_file": "/var/lib/hisguard/backup/status.json",
    "backup_max_age_hours": 26,
    "max_uptime_days": 180,
    "replacement_notice_days": 180,
}


def main(argv):
    try:
        config = {**DEFAULTS, **json.loads(argv[1])}
        if config.get("kind") not in ("daily", "monthly"):
            raise ValueError("kind must be daily or monthly")
    except (IndexError, ValueError, TypeError) as err:
        print(f"usage: inspection_probe.py JSON ({err})", file=sys.stderr)
        return 2
    json.dump(probe(config), sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
