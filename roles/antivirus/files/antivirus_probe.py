#!/usr/bin/python3
# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Read-only probe of hisguard.infosec.antivirus (P1.3.8, P1.4.14, P2.5.1, P2.5.4); prints one JSON document.

Run by the role with ansible.builtin.script (collection roles cannot carry their own modules): one JSON
argument in, one JSON document out on stdout; bad input is a message on stderr and exit code 2.
Standard library only, Python 3.7+ (it runs with the host's Python).

What it reads, changing nothing on the host:
- the ClamAV packages (dpkg), the clamd, freshclam, clamonacc and full-scan units (systemctl show); with
  {"preflight": true} only the packages and whether on-access scanning can run (enforce reads that first)
- clamd.conf and freshclam.conf: the database directory, the on-access settings, every server freshclam
  would contact (explicitly or by a built-in default)
- the signature databases: the build time in a .cvd/.cld header (what `sigtool --info` prints), else the
  file's mtime; the newest one gives the signature age
- clamd itself, only when clamav-daemon.service is already active (a ping would otherwise start it through
  its socket): PING, and an EICAR self-test streamed from memory (`clamdscan -`, no file is written;
  clamd logs the detection of "stream")
- freshclam's log (the last update), the full scan's log (the last scan), clamonacc's log (detections)
- whether on-access scanning can run: CAP_SYS_ADMIN in the bounding set, fanotify in the kernel, and the
  fanotify marks clamonacc holds (/proc/<pid>/fdinfo)
The pure functions (parsers and the checks) are unit-tested (tests/unit/test_antivirus_probe.py).
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time

PASS = "pass"
FAIL = "fail"
ERROR = "error"
NOT_APPLICABLE = "not_applicable"

# File names clamd loads as signatures (see clamd's database loader); whitelists (.fp .sfp .ign .ign2),
# configuration (.cfg .ftm .info) and freshclam's own state (freshclam.dat) are not signatures.
SIGNATURE_EXTENSIONS = (
    ".cvd", ".cld", ".cud",
    ".hdb", ".hsb", ".hdu", ".hsu", ".mdb", ".msb", ".mdu", ".msu",
    ".ndb", ".ndu", ".ldb", ".ldu", ".sdb", ".zmd", ".rmd", ".idb", ".gdb", ".pdb", ".wdb", ".wdu",
    ".cdb", ".cbc", ".yar", ".yara", ".crb", ".pwdb",
)  # fmt: skip
CONTAINER_EXTENSIONS = (".cvd", ".cld", ".cud")
OFFICIAL_DATABASES = ("main", "daily", "bytecode")
# Database files a DatabaseCustomURL may name (freshclam.conf(5)).
CUSTOM_DATABASE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*\.(cat|cdb|cfg|crb|fp|ftm|gdb|hdb|hdu|hsb|hsu|idb|ign|ign2|info|ldb|ldu"
    r"|mdb|mdu|msb|msu|ndb|ndu|pdb|pwdb|sdb|wdb|yar|yara)$"
)
# freshclam.conf directives that name a server freshclam contacts.
SOURCE_DIRECTIVES = ("PrivateMirror", "DatabaseMirror", "DatabaseCustomURL", "DNSDatabaseInfo")
DEFAULT_DATABASE_MIRROR = "database.clamav.net"
DEFAULT_DNS_DATABASE_INFO = "current.cvd.clamav.net"
CAP_SYS_ADMIN = 21
SECONDS_PER_DAY = 86400.0


# --------------------------------------------------------------------------- configuration files


def parse_conf(text):
    """ClamAV configuration text -> {directive: [values in order]}.

    One directive per line, `Name value...`; `#` starts a comment line. A bare directive (no value)
    gets the value "yes", as ClamAV reads it for booleans.
    """
    conf = {}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        value = parts[1].strip() if len(parts) > 1 else "yes"
        conf.setdefault(parts[0], []).append(value)
    return conf


def conf_first(conf, name, default=None):
    values = conf.get(name) or []
    return values[0] if values else default


def is_disabled(value):
    return str(value).strip().lower() in ("no", "false", "off", "0", "disabled")


def url_host(value):
    """The host a mirror setting names: `host`, `host:port`, `scheme://[user@]host[:port]/path`.

    Returns None for `file://` URLs (a local directory, no host) and empty values.
    """
    value = (value or "").strip()
    if not value:
        return None
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)", value)
    if match:
        if match.group(1).lower() == "file":
            return None
        authority = match.group(2).rsplit("@", 1)[-1]
    else:
        authority = value.split("/", 1)[0]
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0].lower()
    return authority.split(":", 1)[0].strip().lower() or None


def updater_sources(freshclam):
    """Every server the freshclam configuration makes freshclam contact, explicit or by default.

    Returns [{directive, value, host, implicit, overridden}]: `implicit` marks a built-in default that
    applies because the directive is missing; `overridden` marks DatabaseMirror/DNSDatabaseInfo entries
    that PrivateMirror overrides (freshclam does not contact them, but the file still names them).
    """
    sources = []
    private = bool(freshclam.get("PrivateMirror"))
    for directive in SOURCE_DIRECTIVES:
        for value in freshclam.get(directive) or []:
            if directive == "DNSDatabaseInfo" and is_disabled(value):
                continue
            sources.append(
                {
                    "directive": directive,
                    "value": value,
                    "host": url_host(value),
                    "implicit": False,
                    "overridden": private and directive in ("DatabaseMirror", "DNSDatabaseInfo"),
                }
            )
    if not private:
        if not freshclam.get("DatabaseMirror"):
            sources.append(
                {
                    "directive": "DatabaseMirror",
                    "value": DEFAULT_DATABASE_MIRROR + " (built-in default)",
                    "host": DEFAULT_DATABASE_MIRROR,
                    "implicit": True,
                    "overridden": False,
                }
            )
        if not freshclam.get("DNSDatabaseInfo"):
            sources.append(
                {
                    "directive": "DNSDatabaseInfo",
                    "value": DEFAULT_DNS_DATABASE_INFO + " (built-in default)",
                    "host": DEFAULT_DNS_DATABASE_INFO,
                    "implicit": True,
                    "overridden": False,
                }
            )
    return sources


def foreign_sources(sources, allowed_host):
    """The sources naming a host other than the internal mirror (file:// sources have no host)."""
    allowed = (allowed_host or "").lower()
    return [s for s in sources if s["host"] is not None and s["host"] != allowed]


def describe_source(source):
    text = "{} {}".format(source["directive"], source["value"])
    if source["overridden"]:
        text += " (overridden by PrivateMirror, still named in the file)"
    return text


# --------------------------------------------------------------------------- signature databases


def parse_cvd_header(data):
    """The 512-byte header of a .cvd/.cld/.cud file -> {build_time, version, signatures, builder} or None.

    `ClamAV-VDB:<build time>:<version>:<signatures>:<level>:<md5>:<dsig>:<builder>:<build time, epoch>`;
    the epoch field is what `sigtool --info` prints as "Build time". Falls back to the text time
    (`27 Nov 2026 04-27 -0400`) when the epoch field is missing.
    """
    if isinstance(data, bytes):
        data = data[:512].decode("ascii", "replace")
    text = (data or "")[:512].rstrip("\x00 \n")
    if not text.startswith("ClamAV-VDB:"):
        return None
    fields = text.split(":")
    build_time = None
    if len(fields) > 8 and fields[8].strip().isdigit():
        build_time = float(fields[8].strip())
    elif len(fields) > 1:
        try:
            parsed = datetime.datetime.strptime(fields[1].strip(), "%d %b %Y %H-%M %z")
            build_time = parsed.timestamp()
        except ValueError:
            build_time = None
    if build_time is None:
        return None

    def integer(index):
        try:
            return int(fields[index])
        except (IndexError, ValueError):
            return None

    return {
        "build_time": build_time,
        "version": integer(2),
        "signatures": integer(3),
        "builder": fields[7].strip() if len(fields) > 7 else None,
    }


def is_signature_file(name):
    lower = name.lower()
    return not lower.startswith(".") and lower.endswith(SIGNATURE_EXTENSIONS)


def database_entry(name, size, mtime, header, now):
    """One database file as reported: its time is the header's build time (.cvd/.cld) or its mtime."""
    from_header = header is not None
    time_value = header["build_time"] if from_header else mtime
    entry = {
        "name": name,
        "size": size,
        "time": iso_time(time_value),
        "time_source": "build time (cvd header)" if from_header else "mtime",
        "age_days": age_days(time_value, now),
        "epoch": time_value,
    }
    if from_header:
        entry["version"] = header["version"]
        entry["signatures"] = header["signatures"]
    return entry


def newest_database(entries):
    return max(entries, key=lambda e: e["epoch"]) if entries else None


def missing_databases(entries, official, custom):
    """Expected databases absent from the database directory (main -> main.cvd or main.cld)."""
    names = {e["name"] for e in entries}
    missing = []
    for base in official:
        if not any(base + ext in names for ext in (".cvd", ".cld")):
            missing.append(base + ".cvd/.cld")
    missing.extend(name for name in custom if name not in names)
    return missing


def age_days(epoch, now):
    return round(max(0.0, now - epoch) / SECONDS_PER_DAY, 2)


def iso_time(epoch):
    if epoch is None:
        return None
    utc = datetime.timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11, the host may be older
    return datetime.datetime.fromtimestamp(epoch, utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- logs

_LOG_PREFIX = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} -> ")
_UPDATE_START = "ClamAV update process started at "
_SCAN_SEPARATOR = re.compile(r"^-{20,}$")
_SCAN_SUMMARY = "----------- SCAN SUMMARY -----------"


def strip_log_prefix(line):
    return _LOG_PREFIX.sub("", line.rstrip())


def last_update(text, keep=12):
    """freshclam's log -> the last update run: {started, errors, lines} (None when the log has none)."""
    lines = [strip_log_prefix(line) for line in (text or "").splitlines()]
    starts = [i for i, line in enumerate(lines) if line.startswith(_UPDATE_START)]
    if not starts:
        return None
    run = [line for line in lines[starts[-1] :] if line.strip() and not set(line.strip()) <= {"-"}]
    return {
        "started": run[0][len(_UPDATE_START) :].strip(),
        "errors": list(dict.fromkeys(line for line in run if line.startswith("ERROR:")))[-keep:],
        "lines": run[-keep:],
    }


def last_scan(text, keep=20):
    """clamdscan's --log file -> the last complete scan: {start, end, infected, errors, found} or None."""
    lines = [line.rstrip() for line in (text or "").splitlines()]
    summaries = [i for i, line in enumerate(lines) if line.strip() == _SCAN_SUMMARY]
    if not summaries:
        return None
    end = summaries[-1]
    begin = 0
    for i in range(end - 1, -1, -1):
        if _SCAN_SEPARATOR.match(lines[i].strip()) and lines[i].strip() != _SCAN_SUMMARY:
            begin = i + 1
            break
    if summaries[:-1] and begin <= summaries[-2]:
        begin = summaries[-2] + 1
    summary = {}
    for line in lines[end + 1 :]:
        if not line.strip() or _SCAN_SEPARATOR.match(line.strip()):
            break
        key, _, value = line.partition(":")
        summary[key.strip().lower()] = value.strip()
    found = [line for line in lines[begin:end] if line.endswith(" FOUND")]
    failed = [line for line in lines[begin:end] if line.endswith(" ERROR")]

    def number(key):
        try:
            return int(summary.get(key, "0"))
        except ValueError:
            return None

    return {
        "start": summary.get("start date"),
        "end": summary.get("end date"),
        "infected": number("infected files"),
        "errors": number("total errors"),
        "found": found[-keep:],
        "error_lines": failed[-keep:],
    }


def found_lines(text, keep=5):
    """Detections (`...: <signature> FOUND`) in a log, the last `keep` of them."""
    return [strip_log_prefix(line) for line in (text or "").splitlines() if line.rstrip().endswith(" FOUND")][
        -keep:
    ]


# --------------------------------------------------------------------------- platform


def capabilities(status_text):
    """/proc/<pid>/status -> {CapInh, CapPrm, CapEff, CapBnd, CapAmb} as integers."""
    caps = {}
    for line in (status_text or "").splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Cap"):
            try:
                caps[key] = int(value.strip(), 16)
            except ValueError:
                continue
    return caps


def has_capability(mask, bit):
    return mask is not None and bool(mask >> bit & 1)


_FANOTIFY_INODE_MARK = re.compile(r"^fanotify ino:([0-9a-f]+) sdev:([0-9a-f]+) ")


def fanotify_marks(fdinfo_texts):
    """The inode marks of a process's fanotify groups, from its /proc/<pid>/fdinfo/* texts.

    Returns {"count": all marks (inode, mount and filesystem), "inodes": [(major, minor, inode)]}; the kernel
    prints the device as its internal dev_t (major << 20 | minor).
    """
    count = 0
    inodes = []
    for text in fdinfo_texts:
        for line in (text or "").splitlines():
            if line.startswith("fanotify ") and not line.startswith("fanotify flags:"):
                count += 1
                match = _FANOTIFY_INODE_MARK.match(line)
                if match:
                    sdev = int(match.group(2), 16)
                    inodes.append((sdev >> 20, sdev & 0xFFFFF, int(match.group(1), 16)))
    return {"count": count, "inodes": inodes}


def watched_paths(path_ids, marks):
    """{path: whether its inode carries a fanotify mark}; path_ids: path -> (major, minor, inode) or None."""
    marked = {tuple(mark) for mark in marks["inodes"]}
    return {path: ident is not None and tuple(ident) in marked for path, ident in path_ids.items()}


def last_run_errors(text, keep=5):
    """ERROR lines of the last run in a clamonacc log (runs start with a line of dashes)."""
    lines = [strip_log_prefix(line) for line in (text or "").splitlines()]
    starts = [i for i, line in enumerate(lines) if _SCAN_SEPARATOR.match(line.strip())]
    run = lines[starts[-1] + 1 :] if starts else lines
    return [line for line in run if line.startswith("ERROR")][-keep:]


def kernel_config_flags(text, names):
    """A kernel .config text -> {name: True/False} for the given CONFIG_ names."""
    found = {}
    for line in (text or "").splitlines():
        line = line.strip()
        for name in names:
            if line.startswith(name + "="):
                found[name] = line.split("=", 1)[1] in ("y", "m")
            elif line == f"# {name} is not set":
                found[name] = False
    return found


def on_access_platform(in_container, container_kind, cap_bounding, fanotify_sysctl, kernel_flags):
    """Whether clamonacc can run here: fanotify permission events need CAP_SYS_ADMIN and kernel support.

    Returns {possible, reason, container}; `possible` is None when the kernel support is unknown (no
    kernel config readable) but nothing rules it out.
    """
    problems = []
    if not has_capability(cap_bounding, CAP_SYS_ADMIN):
        where = "this container ({})".format(container_kind or "container") if in_container else "this host"
        problems.append(
            f"{where} has no CAP_SYS_ADMIN in its capability bounding set, and fanotify_init needs it"
        )
    if kernel_flags.get("CONFIG_FANOTIFY") is False or (
        not fanotify_sysctl and "CONFIG_FANOTIFY" not in kernel_flags
    ):
        problems.append("the kernel has no fanotify (CONFIG_FANOTIFY)")
    if kernel_flags.get("CONFIG_FANOTIFY_ACCESS_PERMISSIONS") is False:
        problems.append("the kernel has no fanotify permission events (CONFIG_FANOTIFY_ACCESS_PERMISSIONS)")
    if problems:
        return {"possible": False, "reason": "; ".join(problems), "container": in_container}
    known = "CONFIG_FANOTIFY_ACCESS_PERMISSIONS" in kernel_flags
    return {
        "possible": True if known else None,
        "reason": "CAP_SYS_ADMIN and fanotify available"
        + ("" if known else " (kernel config not readable: permission events assumed)"),
        "container": in_container,
    }


# --------------------------------------------------------------------------- checks


def check(status, observed, **details):
    result = {"status": status, "observed": observed}
    result.update(details)
    return result


def check_installed(packages, required):
    missing = [name for name in required if not packages.get(name)]
    if missing:
        return check(FAIL, "ClamAV packages not installed: " + ", ".join(missing))
    versions = sorted({packages[name] for name in required})
    return check(PASS, "ClamAV installed ({}: {})".format(", ".join(required), ", ".join(versions)))


def check_daemon(service, socket, ping):
    active = service.get("ActiveState", "unknown")
    enabled = service.get("UnitFileState") or "not-found"
    socket_enabled = socket.get("UnitFileState") or "not-found"
    problems = []
    if service.get("LoadState") == "not-found":
        return check(FAIL, "clamav-daemon.service is not installed")
    if active != "active":
        problems.append(
            "clamav-daemon.service is {} ({}), expected active".format(active, service.get("Result", "?"))
        )
    if enabled != "enabled" and socket_enabled != "enabled":
        problems.append(f"clamd does not start at boot (service {enabled}, socket {socket_enabled})")
    if active == "active" and not ping.get("ok"):
        problems.append("clamd does not answer PING: " + (ping.get("output") or "no answer"))
    if problems:
        return check(FAIL, "; ".join(problems))
    return check(
        PASS, "clamd active and started at boot, answers PING ({})".format(ping.get("version") or "?")
    )


def check_detection(enabled, daemon_active, self_test):
    if not enabled:
        return check(PASS, "EICAR self-test not run (antivirus_self_test: false)")
    if not daemon_active:
        return check(FAIL, "detection not tested: clamd is not running")
    if self_test.get("detected"):
        return check(PASS, "clamd detects the EICAR test string as " + self_test.get("signature", "?"))
    if self_test.get("rc") == 0:
        return check(FAIL, "clamd does not detect the EICAR test string (no signature for it is loaded)")
    return check(
        ERROR, "EICAR self-test failed: " + (self_test.get("output") or "rc {}".format(self_test.get("rc")))
    )


def check_signatures(database_dir, entries, missing, max_age_days, readable=True):
    if not readable:
        return check(ERROR, "cannot read the signature database directory " + database_dir)
    if not entries:
        return check(FAIL, "no signature database in " + database_dir)
    newest = newest_database(entries)
    problems = []
    if newest["age_days"] > max_age_days:
        problems.append(
            "signatures are {} days old (newest: {}, {} {}), older than {} days".format(
                newest["age_days"], newest["name"], newest["time_source"], newest["time"], max_age_days
            )
        )
    if missing:
        problems.append("databases expected from the mirror are missing: " + ", ".join(missing))
    text = "newest signature database {} is {} days old ({} {}; limit {} days)".format(
        newest["name"], newest["age_days"], newest["time_source"], newest["time"], max_age_days
    )
    if problems:
        return check(FAIL, "; ".join(problems), signature_age_days=newest["age_days"])
    return check(PASS, text, signature_age_days=newest["age_days"])


def check_updates(freshclam_present, freshclam, mirror_url, official, custom, updater):
    """freshclam names only the internal mirror, fetches what it should from it, and runs."""
    mirror = mirror_url.rstrip("/")
    host = url_host(mirror)
    if not freshclam_present:
        return check(
            FAIL, "no freshclam configuration (/etc/clamav/freshclam.conf): signatures are never updated"
        )
    problems = []
    sources = updater_sources(freshclam)
    foreign = foreign_sources(sources, host)
    if foreign:
        problems.append(
            "freshclam names hosts other than the internal mirror {}: {}".format(
                host, "; ".join(describe_source(s) for s in foreign)
            )
        )
    private = [v.rstrip("/") for v in freshclam.get("PrivateMirror") or []]
    excluded = set(freshclam.get("ExcludeDatabase") or [])
    fetched_official = [db for db in OFFICIAL_DATABASES if db not in excluded]
    if official and mirror not in private:
        problems.append(
            "PrivateMirror is not the internal mirror {} (set: {})".format(
                mirror, ", ".join(private) or "none"
            )
        )
    not_fetched = [db for db in official if db in excluded]
    if not_fetched:
        problems.append("ExcludeDatabase keeps {} from being updated".format(", ".join(not_fetched)))
    custom_urls = [u.rstrip("/") for u in freshclam.get("DatabaseCustomURL") or []]
    not_custom = [db for db in custom if f"{mirror}/{db}" not in custom_urls]
    if not_custom:
        problems.append(
            "not fetched from the mirror (no DatabaseCustomURL {}/...): {}".format(
                mirror, ", ".join(not_custom)
            )
        )
    if not official and fetched_official and private:
        problems.append(
            "freshclam asks the mirror for {} although it serves none (ExcludeDatabase them)".format(
                ", ".join(fetched_official)
            )
        )
    if not updater.get("running"):
        problems.append(updater.get("observed") or "the freshclam daemon does not run")
    if problems:
        return check(FAIL, "; ".join(problems), sources=sources)
    what = ["{} (PrivateMirror)".format("/".join(official))] if official else []
    what += [f"{db} (DatabaseCustomURL)" for db in custom]
    return check(
        PASS,
        "freshclam updates {} only from the internal mirror {}; {}".format(
            ", ".join(what) or "nothing", mirror, updater.get("observed")
        ),
        sources=sources,
    )


def updater_state(service, cron_file_present):
    """clamav-freshclam.service active and enabled (or Debian's cron mode)."""
    active = service.get("ActiveState", "unknown")
    enabled = service.get("UnitFileState") or "not-found"
    if cron_file_present:
        return {"running": True, "observed": "freshclam runs from cron (/etc/cron.d/clamav-freshclam)"}
    if active == "active" and enabled == "enabled":
        return {"running": True, "observed": "clamav-freshclam.service active and enabled"}
    return {
        "running": False,
        "observed": f"clamav-freshclam.service is {active} and {enabled}, expected active and enabled",
    }


def check_scheduled_scan(timer, service, unit_files, scan):
    """The hisguard full-scan timer is installed as expected, enabled and active; the last scan was clean."""
    problems = []
    if timer.get("LoadState") == "not-found" or not all(f.get("exists") for f in unit_files):
        missing = [f["path"] for f in unit_files if not f.get("exists")]
        return check(
            FAIL, "no scheduled full scan: missing " + (", ".join(missing) or timer.get("Id", "timer"))
        )
    changed = [f["path"] for f in unit_files if not f.get("content_ok")]
    if changed:
        problems.append("differs from the expected unit: " + ", ".join(changed))
    if timer.get("UnitFileState") != "enabled":
        problems.append(
            "{} is {} at boot, expected enabled".format(timer.get("Id"), timer.get("UnitFileState") or "?")
        )
    if timer.get("ActiveState") != "active":
        problems.append("{} is {}, expected active".format(timer.get("Id"), timer.get("ActiveState")))
    if scan and scan.get("infected"):
        problems.append(
            "the last full scan ({}) found {} infected file(s): {}".format(
                scan.get("end") or scan.get("start") or "?",
                scan["infected"],
                "; ".join(scan.get("found") or []),
            )
        )
    last = (
        "last scan {}: {} infected, {} errors".format(
            scan.get("end"), scan.get("infected"), scan.get("errors")
        )
        if scan
        else "no full scan has run yet"
    )
    if problems:
        return check(FAIL, "; ".join(problems))
    return check(
        PASS,
        "{} enabled and active (next {}); {}".format(
            timer.get("Id"), timer.get("NextElapseUSecRealtime") or "?", last
        ),
    )


def check_on_access(enabled, platform, service, conf, expected_paths, prevention, marks, watched, errors=()):
    """clamonacc runs with fanotify marks, watching the expected paths; not_applicable in a container
    that cannot run it, fail on a machine that cannot."""
    if not enabled:
        return check(FAIL, "on-access scanning is switched off (antivirus_on_access: false)")
    if platform.get("possible") is False:
        status = NOT_APPLICABLE if platform.get("container") else FAIL
        return check(status, "on-access scanning cannot run here: " + platform.get("reason", "?"))
    problems = []
    active = service.get("ActiveState", "unknown")
    if service.get("LoadState") == "not-found":
        return check(FAIL, "clamav-clamonacc.service is not installed")
    if active != "active":
        problems.append(f"clamav-clamonacc.service is {active}, expected active")
    if service.get("UnitFileState") != "enabled":
        problems.append(
            "clamav-clamonacc.service is {} at boot, expected enabled".format(
                service.get("UnitFileState") or "?"
            )
        )
    include = [p.rstrip("/") or "/" for p in conf.get("OnAccessIncludePath") or []]
    missing = [p for p in expected_paths if (p.rstrip("/") or "/") not in include]
    if missing:
        problems.append("clamd.conf has no OnAccessIncludePath for " + ", ".join(missing))
    configured_prevention = not is_disabled(conf_first(conf, "OnAccessPrevention", "no"))
    if prevention and not configured_prevention:
        problems.append("OnAccessPrevention is off, expected yes (block infected files)")
    if active == "active":
        unwatched = [p for p in expected_paths if not watched.get(p)]
        if marks["count"] == 0:
            problems.append("clamonacc holds no fanotify marks (nothing is watched)")
        elif unwatched:
            problems.append("clamonacc does not watch " + ", ".join(unwatched) + " (no fanotify mark on it)")
        if problems and errors:
            problems.append("clamonacc's log: " + " | ".join(errors))
    if problems:
        return check(FAIL, "; ".join(problems))
    return check(
        PASS,
        "clamonacc active and enabled, watching {} ({} fanotify marks), prevention {}".format(
            ", ".join(expected_paths), marks["count"], "on" if configured_prevention else "off"
        ),
    )


def summarize(checks, names):
    """The result of one control from its checks: fail > error > not_applicable > pass."""
    selected = [(name, checks[name]) for name in names if name in checks]
    statuses = [c["status"] for _, c in selected]
    if FAIL in statuses:
        status = FAIL
    elif ERROR in statuses:
        status = ERROR
    elif NOT_APPLICABLE in statuses:
        status = NOT_APPLICABLE
    else:
        status = PASS
    return {
        "status": status,
        "problems": [c["observed"] for _, c in selected if c["status"] in (FAIL, ERROR)],
        "notes": [c["observed"] for _, c in selected if c["status"] == NOT_APPLICABLE],
        "good": [c["observed"] for _, c in selected if c["status"] == PASS],
        "checks": {name: c["status"] for name, c in selected},
    }


# --------------------------------------------------------------------------- reading the host (not pure)

ENV = dict(os.environ, LC_ALL="C")
REQUIRED_PACKAGES = ("clamav", "clamav-daemon", "clamdscan", "clamav-freshclam")
CLAMD_CONF = "/etc/clamav/clamd.conf"
FRESHCLAM_CONF = "/etc/clamav/freshclam.conf"
FRESHCLAM_CRON = "/etc/cron.d/clamav-freshclam"
DEFAULT_DATABASE_DIR = "/var/lib/clamav"
DEFAULT_FRESHCLAM_LOG = "/var/log/clamav/freshclam.log"
DAEMON = "clamav-daemon.service"
SOCKET = "clamav-daemon.socket"
FRESHCLAM = "clamav-freshclam.service"
CLAMONACC = "clamav-clamonacc.service"
UNIT_PROPERTIES = (
    "Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "Result", "MainPID", "ExecMainStatus",
    "LastTriggerUSec", "NextElapseUSecRealtime",
)  # fmt: skip
LOG_TAIL_BYTES = 65536
# The EICAR test string, in two pieces so that this file itself is no test file for a scanner.
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def run(argv, data=None, timeout=60):
    """Run a read-only command; never raises (a missing tool is reported, not fatal)."""
    try:
        proc = subprocess.run(
            argv,
            input=data.encode("ascii") if data is not None else None,
            capture_output=True,
            env=ENV,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"rc": None, "stdout": "", "stderr": str(err)}
    return {
        "rc": proc.returncode,
        "stdout": proc.stdout.decode("utf-8", "replace"),
        "stderr": proc.stderr.decode("utf-8", "replace"),
    }


def read_text(path, tail=None):
    """A file's text (its last `tail` bytes), or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            if tail:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - tail))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return None


def units(names):
    """`systemctl show` of several units -> {name: {property: value}}."""
    result = run(["systemctl", "show", "--property=" + ",".join(UNIT_PROPERTIES), "--", *names])
    blocks = result["stdout"].split("\n\n")
    shown = {}
    for index, name in enumerate(names):
        block = blocks[index] if index < len(blocks) else ""
        props = {}
        for line in block.splitlines():
            key, _, value = line.partition("=")
            props[key] = value
        shown[name] = props
    for name in names:
        shown.setdefault(name, {"Id": name, "LoadState": "unknown", "ActiveState": "unknown"})
    return shown


def packages(names):
    """Installed versions from dpkg (None: not installed)."""
    result = run(["dpkg-query", "-W", "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n", "--", *names])
    found = {name: None for name in names}
    for line in result["stdout"].splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[2].strip() in ("ii", "hi"):
            found[fields[0]] = fields[1]
    return found


def databases(directory, now):
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return [], False
    entries = []
    for name in names:
        path = os.path.join(directory, name)
        if not is_signature_file(name) or not os.path.isfile(path):
            continue
        try:
            info = os.stat(path)
            header = None
            if name.lower().endswith(CONTAINER_EXTENSIONS):
                with open(path, "rb") as handle:
                    header = parse_cvd_header(handle.read(512))
        except OSError:
            continue
        entries.append(database_entry(name, info.st_size, info.st_mtime, header, now))
    return entries, True


def clamd_ping():
    result = run(["timeout", "60", "clamdscan", "--ping", "3:1"], timeout=70)
    output = (result["stdout"] + result["stderr"]).strip()
    version = run(["timeout", "30", "clamdscan", "--version"], timeout=40)
    return {
        "ok": result["rc"] == 0 and "PONG" in output,
        "output": output[-500:],
        "version": version["stdout"].strip(),
    }


def eicar_self_test():
    """Stream the EICAR test string to clamd from memory; no file is written anywhere."""
    result = run(["timeout", "60", "clamdscan", "--no-summary", "-"], data=EICAR, timeout=70)
    output = (result["stdout"] + result["stderr"]).strip()
    test = {"rc": result["rc"], "detected": False, "output": output[-500:]}
    match = re.search(r":\s*(\S+)\s+FOUND", output)
    if result["rc"] == 1 and match:
        test.update(detected=True, signature=match.group(1))
    return test


def file_state(path, expected_sha256):
    try:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return {"path": path, "exists": os.path.exists(path), "content_ok": False, "sha256": None}
    return {"path": path, "exists": True, "content_ok": digest == expected_sha256, "sha256": digest}


def process_marks(pid):
    try:
        names = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return {"count": 0, "inodes": []}
    return fanotify_marks(read_text(f"/proc/{pid}/fdinfo/{name}") or "" for name in names)


def path_ids(paths):
    ids = {}
    for path in paths:
        try:
            info = os.stat(path)
            ids[path] = (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
        except OSError:
            ids[path] = None
    return ids


def kernel_config():
    release = platform.release()
    text = read_text("/boot/config-" + release)
    if text is None:
        try:
            with gzip.open("/proc/config.gz", "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            text = ""
    return kernel_config_flags(text, ("CONFIG_FANOTIFY", "CONFIG_FANOTIFY_ACCESS_PERMISSIONS"))


def container_kind():
    result = run(["systemd-detect-virt", "--container"])
    kind = result["stdout"].strip()
    if result["rc"] == 0 and kind and kind != "none":
        return kind
    if os.path.exists("/run/.containerenv"):
        return "podman"
    if os.path.exists("/.dockerenv"):
        return "docker"
    return None


def platform_facts():
    kind = container_kind()
    caps = capabilities(read_text("/proc/self/status"))
    flags = kernel_config()
    fanotify_sysctl = os.path.isdir("/proc/sys/fs/fanotify")
    verdict = on_access_platform(kind is not None, kind, caps.get("CapBnd"), fanotify_sysctl, flags)
    verdict.update(
        container_kind=kind,
        cap_sys_admin=has_capability(caps.get("CapBnd"), CAP_SYS_ADMIN),
        fanotify_sysctl=fanotify_sysctl,
        kernel_config=flags,
        kernel=platform.release(),
    )
    return verdict


def probe(args):
    now = time.time()
    platform_info = platform_facts()
    pkgs = packages(REQUIRED_PACKAGES)
    if args.get("preflight"):
        return {"now": iso_time(now), "platform": platform_info, "packages": pkgs}

    clamd_text = read_text(CLAMD_CONF)
    clamd = parse_conf(clamd_text)
    freshclam_text = read_text(FRESHCLAM_CONF)
    freshclam = parse_conf(freshclam_text)
    shown = units([DAEMON, SOCKET, FRESHCLAM, CLAMONACC, args["scan_timer"], args["scan_service"]])
    daemon_active = shown[DAEMON].get("ActiveState") == "active"

    # clamd is asked only when it runs already: a connection to the socket would start it.
    ping = clamd_ping() if daemon_active else {"ok": False, "output": "not asked: clamd is not running"}
    self_test = eicar_self_test() if daemon_active and args["self_test"] else {"rc": None, "detected": False}

    database_dir = conf_first(clamd, "DatabaseDirectory", DEFAULT_DATABASE_DIR)
    entries, readable = databases(database_dir, now)
    missing = missing_databases(entries, args["official_databases"], args["custom_databases"])
    newest = newest_database(entries)

    updater = updater_state(shown[FRESHCLAM], os.path.exists(FRESHCLAM_CRON))
    update_log = read_text(conf_first(freshclam, "UpdateLogFile", DEFAULT_FRESHCLAM_LOG), tail=LOG_TAIL_BYTES)

    unit_files = [file_state(f["path"], f["sha256"]) for f in args["scan_units"]]
    scan = last_scan(read_text(args["scan_log"], tail=LOG_TAIL_BYTES))

    onacc = shown[CLAMONACC]
    ids = path_ids(args["on_access_paths"])

    def read_marks(unit):
        active = unit.get("ActiveState") == "active"
        return process_marks(unit.get("MainPID", "0")) if active else {"count": 0, "inodes": []}

    marks = read_marks(onacc)
    watched = watched_paths(ids, marks)
    deadline = now + float(args.get("settle_seconds") or 0)
    # After enforce, clamonacc may still be walking the directories it watches.
    while (
        args["on_access"]
        and platform_info["possible"] is not False
        and not all(watched.values())
        and time.time() < deadline
        and onacc.get("ActiveState") in ("active", "activating")
    ):
        time.sleep(0.5)
        onacc = units([CLAMONACC])[CLAMONACC]
        marks = read_marks(onacc)
        watched = watched_paths(ids, marks)
    on_access_log = read_text(args["on_access_log"], tail=LOG_TAIL_BYTES)
    on_access_errors = last_run_errors(on_access_log)

    checks = {
        "installed": check_installed(pkgs, REQUIRED_PACKAGES),
        "daemon": check_daemon(shown[DAEMON], shown[SOCKET], ping),
        "detection": check_detection(args["self_test"], daemon_active, self_test),
        "signatures": check_signatures(
            database_dir, entries, missing, args["max_signature_age_days"], readable
        ),
        "updates": check_updates(
            freshclam_text is not None,
            freshclam,
            args["mirror_url"],
            args["official_databases"],
            args["custom_databases"],
            updater,
        ),
        "scheduled_scan": check_scheduled_scan(
            shown[args["scan_timer"]], shown[args["scan_service"]], unit_files, scan
        ),
        "on_access": check_on_access(
            args["on_access"],
            platform_info,
            onacc,
            clamd,
            args["on_access_paths"],
            args["on_access_prevention"],
            marks,
            watched,
            on_access_errors,
        ),
    }
    return {
        "now": iso_time(now),
        "platform": platform_info,
        "packages": pkgs,
        "daemon": {
            "service": shown[DAEMON],
            "socket": shown[SOCKET],
            "ping": ping,
            "self_test": self_test,
        },
        "signatures": {
            "directory": database_dir,
            "databases": [{k: v for k, v in e.items() if k != "epoch"} for e in entries],
            "newest": newest["name"] if newest else None,
            "age_days": newest["age_days"] if newest else None,
            "missing": missing,
        },
        "updates": {
            "freshclam_conf": FRESHCLAM_CONF if freshclam_text is not None else None,
            "sources": updater_sources(freshclam) if freshclam_text is not None else [],
            "freshclam_service": shown[FRESHCLAM],
            "updater": updater,
            "last_update": last_update(update_log),
        },
        "scan": {
            "timer": shown[args["scan_timer"]],
            "service": shown[args["scan_service"]],
            "unit_files": unit_files,
            "log": args["scan_log"],
            "last_scan": scan,
        },
        "on_access": {
            "service": onacc,
            "include_paths": clamd.get("OnAccessIncludePath") or [],
            "exclude_paths": clamd.get("OnAccessExcludePath") or [],
            "prevention": conf_first(clamd, "OnAccessPrevention", "no"),
            "fanotify_marks": marks["count"],
            "watched": watched,
            "log_errors": on_access_errors,
            "recent_detections": found_lines(on_access_log),
        },
        "checks": checks,
        "controls": {control: summarize(checks, names) for control, names in args["controls"].items()},
    }


ARGUMENTS = {
    "mirror_url": str,
    "official_databases": list,
    "custom_databases": list,
    "max_signature_age_days": (int, float),
    "self_test": bool,
    "on_access": bool,
    "on_access_paths": list,
    "on_access_prevention": bool,
    "on_access_log": str,
    "scan_timer": str,
    "scan_service": str,
    "scan_units": list,
    "scan_log": str,
    "controls": dict,
}


def parse_arguments(argv):
    """The one JSON argument -> a dict, or a message naming what is wrong (SystemExit 2)."""
    if len(argv) != 2:
        raise SystemExit("usage: antivirus_probe.py JSON")
    try:
        args = json.loads(argv[1])
    except ValueError as err:
        raise SystemExit(f"antivirus_probe.py: the argument is not JSON: {err}") from None
    if not isinstance(args, dict):
        raise SystemExit("antivirus_probe.py: the argument must be a JSON object")
    if args.get("preflight"):
        return args
    for name, kind in ARGUMENTS.items():
        if not isinstance(args.get(name), kind) or (kind is not bool and isinstance(args.get(name), bool)):
            raise SystemExit(f"antivirus_probe.py: argument {name} is missing or of the wrong type")
    return args


def main(argv=None):
    try:
        args = parse_arguments(argv if argv is not None else sys.argv)
    except SystemExit as err:
        sys.stderr.write(f"{err}\n")
        return 2
    json.dump(probe(args), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
