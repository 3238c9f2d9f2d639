#!/usr/bin/python3
# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""patching_status: the patching role's read-only probe of a Debian/Ubuntu host (P2.5.1, P2.5.3).

Run by the role with ansible.builtin.script (collection roles cannot carry their own modules): one JSON
argument in, one JSON document out on stdout; bad input is a message on stderr and exit code 2.
Standard library only, Python 3.8+ (it runs with the host's Python: Debian 12, Ubuntu 22.04/24.04),
hence datetime.timezone.utc rather than datetime.UTC (3.11+).

What it reads, changing nothing on the host:
- pending updates: with lists "private" the package lists are refreshed from the host's configured apt
  sources into a temporary directory (`-o Dir::State::Lists=...`, with the binary caches, the archives
  directory and apt's logs redirected there too) and the directory is removed afterwards, so /var/lib/apt,
  /var/cache/apt and /var/log/apt stay as they were; with lists "system" the host's own lists are used as
  they are (their age is reported). The upgrade is simulated (`apt-get -s upgrade --with-new-pkgs` or
  `dist-upgrade`).
- the age of each pending update: the Last-Modified date the mirror serves for its .deb (an HTTP HEAD
  request to the URI `apt-get --print-uris` names; the file's mtime for file: sources), else the Date of
  the oldest Release file of that archive.
- the reboot flag /var/run/reboot-required (its mtime is when it was raised) and .pkgs.
- the maintenance window, in the host's local time, and the reboot decision of the reboot policy.

The first half of this file is pure functions (unit-tested in tests/unit/test_patching.py).
"""

import datetime
import email.utils
import fnmatch
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

# datetime.UTC needs Python 3.11; the hosts may run 3.8-3.10.
UTC = datetime.timezone.utc  # noqa: UP017
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REBOOT_POLICIES = ("never", "if_required", "always")

_INST = re.compile(
    r"^Inst (?P<name>\S+)(?: \[(?P<installed>[^\]]*)\])?"
    r" \((?P<candidate>\S+)(?P<releases>.*?) \[(?P<arch>[^\]]+)\]\)"
)
_REMOVE = re.compile(r"^(?P<op>Remv|Purg) (?P<name>\S+)(?: \[(?P<version>[^\]]*)\])?")
_URI = re.compile(r"^'(?P<uri>[^']+)' (?P<filename>\S+) (?P<size>\d+)(?: (?P<hash>\S+))?")
_TIME = re.compile(r"^(?P<hour>\d{1,2}):(?P<minute>\d{2})$")


# --------------------------------------------------------------------------- apt output


def parse_simulation(text):
    """Parse `apt-get -s upgrade|dist-upgrade|purge ...` output (LC_ALL=C).

    Returns {"install": [{name, installed, candidate, releases, arch}], "remove": [{name, version,
    purge}], "kept_back": [names]}. `installed` is None for a package that is newly installed.
    """
    install, remove, kept_back = [], [], []
    in_kept_back = False
    for line in text.splitlines():
        if in_kept_back:
            if line.startswith(" "):
                kept_back.extend(line.split())
                continue
            in_kept_back = False
        if line.startswith("The following packages have been kept back"):
            in_kept_back = True
            continue
        match = _INST.match(line)
        if match:
            releases = [r.strip() for r in match.group("releases").split(",") if r.strip()]
            install.append(
                {
                    "name": match.group("name"),
                    "installed": match.group("installed") or None,
                    "candidate": match.group("candidate"),
                    "releases": releases,
                    "arch": match.group("arch"),
                }
            )
            continue
        match = _REMOVE.match(line)
        if match:
            remove.append(
                {
                    "name": match.group("name"),
                    "version": match.group("version") or None,
                    "purge": match.group("op") == "Purg",
                }
            )
    return {"install": install, "remove": remove, "kept_back": sorted(set(kept_back))}


def parse_print_uris(text):
    """Parse `apt-get --print-uris -qq ...`: {package file name: URI}."""
    uris = {}
    for line in text.splitlines():
        match = _URI.match(line.strip())
        if match:
            uris[match.group("filename")] = match.group("uri")
    return uris


def package_of_debfile(filename):
    """`his-client_1.0.1_all.deb` -> ("his-client", "1.0.1"); versions keep their epoch as `%3a`."""
    base = filename.rsplit("/", 1)[-1]
    if base.endswith(".deb"):
        base = base[:-4]
    parts = base.split("_")
    if len(parts) < 2:
        return base, None
    return parts[0], parts[1].replace("%3a", ":")


def parse_release(text):
    """The header fields of a Release/InRelease file (Origin, Label, Suite, Codename, Date, ...)."""
    fields = {}
    for line in text.splitlines():
        if line.startswith("-----BEGIN PGP SIGNED"):
            continue
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t":
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            if key.startswith("Hash") or key in ("MD5Sum", "SHA1", "SHA256", "SHA512"):
                continue
            fields[key.strip()] = value.strip()
    return fields


def parse_http_date(value):
    """An RFC 2822 date (HTTP Last-Modified, a Release file's Date) as an aware UTC datetime, or None."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def archive_root_of_list(list_filename):
    """`mirror.lab.internal_debian_dists_bookworm_Release` -> `mirror.lab.internal_debian` (or None)."""
    if "_dists_" not in list_filename:
        return None
    return list_filename.split("_dists_", 1)[0]


def list_name_of_uri(uri):
    """How apt names a URI in its lists directory: scheme and user dropped, `/` -> `_`."""
    rest = uri.split("://", 1)[-1]
    rest = rest.split("@", 1)[-1]
    return rest.strip("/").replace("/", "_")


def release_date_for_uri(uri, releases):
    """The oldest Release Date among the indexes of the archive that serves `uri`.

    `releases` maps list file names (`..._dists_<suite>_Release`) to their parsed fields.
    """
    name = list_name_of_uri(uri)
    dates = []
    for list_filename, fields in releases.items():
        root = archive_root_of_list(list_filename)
        if root and name.startswith(root + "_"):
            date = parse_http_date(fields.get("Date"))
            if date:
                dates.append(date)
    return min(dates) if dates else None


def is_security(releases, patterns):
    """Whether an update comes from a security archive: one of its release strings
    (`Debian-Security:12/stable-security`) matches one of the glob patterns, case-insensitively."""
    for release in releases:
        for pattern in patterns:
            if fnmatch.fnmatch(release.lower(), pattern.lower()):
                return True
    return False


def age_days(since, now):
    """Whole and fractional days from `since` to `now` (aware datetimes), one decimal; None if unknown."""
    if since is None:
        return None
    return round(max((now - since).total_seconds(), 0.0) / 86400.0, 1)


# --------------------------------------------------------------------------- maintenance window


def _parse_time(value, field, allow_24=False):
    match = _TIME.match(str(value).strip())
    if not match:
        raise ValueError(f'patching_maintenance_window.{field}: {value!r} is not a time like "01:00"')
    hour, minute = int(match.group("hour")), int(match.group("minute"))
    if minute > 59 or hour > 24 or (hour == 24 and (minute or not allow_24)):
        raise ValueError(
            f"patching_maintenance_window.{field}: {value!r} is not a valid time (00:00-23:59"
            + (", or 24:00 for the end of the day)" if allow_24 else ")")
        )
    return hour * 60 + minute


def parse_window(spec):
    """Validate a window {days: [Sat, Sun], start: "01:00", end: "05:00"}.

    Returns {"days": [weekday numbers, Monday=0], "start": minutes, "end": minutes}. An `end` at or
    before `start` means the window runs past midnight into the next day; "24:00" ends at midnight.
    An empty `days` list is a change freeze: the window never opens. Raises ValueError naming the field.
    """
    if not isinstance(spec, dict):
        raise ValueError("patching_maintenance_window must be a mapping with days, start and end")
    unknown = sorted(set(spec) - {"days", "start", "end"})
    if unknown:
        raise ValueError(
            f"patching_maintenance_window: unknown key(s) {', '.join(unknown)}; use days, start, end"
        )
    for key in ("days", "start", "end"):
        if key not in spec:
            raise ValueError(f"patching_maintenance_window.{key} is missing")
    days = spec["days"]
    if isinstance(days, str) or not isinstance(days, (list, tuple)):
        raise ValueError("patching_maintenance_window.days must be a list of day names such as [Sat, Sun]")
    numbers = []
    for day in days:
        key = str(day).strip().lower()[:3]
        if key not in DAYS or not str(day).strip().isalpha():
            raise ValueError(
                f"patching_maintenance_window.days: {day!r} is not a day name "
                "(Mon, Tue, Wed, Thu, Fri, Sat, Sun)"
            )
        numbers.append(DAYS.index(key))
    start = _parse_time(spec["start"], "start")
    end = _parse_time(spec["end"], "end", allow_24=True)
    if start == end:
        raise ValueError(
            "patching_maintenance_window: start and end are equal; give a window such as 01:00-05:00, or "
            "00:00-24:00 for the whole day"
        )
    return {"days": sorted(set(numbers)), "start": start, "end": end}


def window_state(spec, now):
    """Whether the maintenance window is open at `now` (the host's local time, a naive datetime).

    Returns {"open": bool, "opened_at", "closes_at", "next_open"} (ISO strings or None).
    A window that runs past midnight belongs to the day it starts on.
    """
    window = parse_window(spec)
    length = (window["end"] - window["start"]) % (24 * 60) or 24 * 60
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    state = {"open": False, "opened_at": None, "closes_at": None, "next_open": None}
    for offset in range(-1, 8):
        day = midnight + datetime.timedelta(days=offset)
        if day.weekday() not in window["days"]:
            continue
        opens = day + datetime.timedelta(minutes=window["start"])
        closes = opens + datetime.timedelta(minutes=length)
        if opens <= now < closes and not state["open"]:
            state.update(
                open=True,
                opened_at=opens.isoformat(timespec="seconds"),
                closes_at=closes.isoformat(timespec="seconds"),
            )
        elif opens > now and state["next_open"] is None:
            state["next_open"] = opens.isoformat(timespec="seconds")
    return state


# --------------------------------------------------------------------------- reboot policy


def reboot_decision(policy, enforce, window_open, updated, required, container):
    """What the role does about a reboot.

    Returns {"action": none|reboot|deferred|not_possible, "reason": text}. `updated`: this run installed
    updates; `required`: /var/run/reboot-required exists. Policies: never (report only), if_required
    (reboot when the flag is set), always (reboot after installing updates, and when the flag is set).
    """
    if policy not in REBOOT_POLICIES:
        raise ValueError(f"patching_reboot_policy: {policy!r} is not one of {', '.join(REBOOT_POLICIES)}")
    if not enforce:
        return {"action": "none", "reason": "audit mode: nothing is rebooted"}
    if policy == "never":
        return {"action": "none", "reason": "not rebooted: reboot policy never, left to the administrator"}
    wanted = required or (policy == "always" and updated)
    if not wanted:
        return {"action": "none", "reason": "no reboot required"}
    if not window_open:
        return {"action": "deferred", "reason": "not rebooted: outside the maintenance window"}
    if container:
        return {
            "action": "not_possible",
            "reason": "not rebooted: the host is a container (its kernel is the host's); "
            "restart it from its host",
        }
    why = "a reboot is required" if required else "updates were installed and the reboot policy is always"
    return {"action": "reboot", "reason": "rebooting: " + why}


# --------------------------------------------------------------------------- findings


def describe_update(update):
    text = "{name} {installed} -> {candidate}".format(
        name=update["name"], installed=update.get("installed") or "(new)", candidate=update["candidate"]
    )
    details = []
    if update.get("security"):
        details.append("security")
    if update.get("available_since"):
        details.append("on the mirror since " + update["available_since"])
    if update.get("age_days") is not None:
        details.append("{} days".format(update["age_days"]))
    return text + (" (" + ", ".join(details) + ")" if details else "")


def evaluate(status, max_pending_age_days):
    """The findings of one host: {"problems": [...], "good": [...], "errors": [...]}.

    `status` is the module's result (pending, kept_back, lists, reboot, errors). Updates are pending
    once they are older than `max_pending_age_days` (0: any pending update fails the check).
    """
    problems, good, errors = [], [], list(status.get("errors") or [])
    if not errors:
        overdue = [
            u
            for u in status.get("pending", [])
            if u.get("age_days") is None or u["age_days"] >= max_pending_age_days
        ]
        within = [u for u in status.get("pending", []) if u not in overdue]
        if overdue:
            problems.append(
                "{} pending update(s) from the configured mirror: {}".format(
                    len(overdue), "; ".join(describe_update(u) for u in overdue)
                )
            )
        if within:
            good.append(
                "{} update(s) within the {}-day grace period: {}".format(
                    len(within), max_pending_age_days, "; ".join(describe_update(u) for u in within)
                )
            )
        kept = [name for name in status.get("kept_back", []) if name not in {u["name"] for u in overdue}]
        if kept:
            problems.append("kept back (needs a manual dist-upgrade or a decision): " + ", ".join(kept))
        if not overdue and not within and not kept:
            lists = status.get("lists") or {}
            good.append(
                "no pending updates from {} ({} lists)".format(
                    ", ".join(lists.get("sources") or ["the configured sources"]), lists.get("mode", "?")
                )
            )
    reboot = status.get("reboot") or {}
    if reboot.get("required"):
        text = "reboot required"
        if reboot.get("since"):
            text += " since " + reboot["since"]
        if reboot.get("packages"):
            text += " (for " + ", ".join(reboot["packages"]) + ")"
        decision = reboot.get("decision") or {}
        if decision.get("reason", "").startswith("not rebooted"):
            text += "; " + decision["reason"]
        problems.append(text)
    else:
        good.append("no reboot pending")
    return {"problems": problems, "good": good, "errors": errors}


# --------------------------------------------------------------------------- reading the host

SYSTEM_LISTS = "/var/lib/apt/lists"
REBOOT_FLAG = "/var/run/reboot-required"
APT_ENV = {"LC_ALL": "C", "LANG": "C", "DEBIAN_FRONTEND": "noninteractive"}


def run(argv, timeout):
    """(rc, stdout, stderr) of a command, never raising for a failing or missing command."""
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=dict(os.environ, **APT_ENV),
            timeout=timeout,
        )
    except (OSError, subprocess.SubprocessError) as err:
        return 127, "", str(err)
    return proc.returncode, proc.stdout, proc.stderr


def which(name):
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin")


def is_container():
    detect = which("systemd-detect-virt")
    if detect:
        return run([detect, "--container", "--quiet"], 10)[0] == 0
    return any(os.path.exists(p) for p in ("/run/.containerenv", "/.dockerenv", "/run/systemd/container"))


def apt_options(workdir):
    """Options that keep apt out of the host's own state: lists, binary caches, archives, logs."""
    options = ["-o", "Debug::NoLocking=1", "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache="]
    if workdir:
        options += [
            "-o", "Dir::State::Lists=" + os.path.join(workdir, "lists"),
            "-o", "Dir::Cache::Archives=" + os.path.join(workdir, "archives"),
            "-o", "Dir::Log=" + os.path.join(workdir, "log"),
        ]  # fmt: skip
    return options


def prepare_workdir():
    workdir = tempfile.mkdtemp(prefix="hisguard-patching-")
    os.chmod(workdir, 0o755)  # apt's download sandbox user (_apt) must reach lists/partial
    for sub in ("lists/partial", "archives/partial", "log"):
        os.makedirs(os.path.join(workdir, sub))
    try:
        import pwd

        uid = pwd.getpwnam("_apt").pw_uid
        for sub in ("lists", "lists/partial"):
            os.chown(os.path.join(workdir, sub), uid, -1)
    except (ImportError, KeyError, OSError):
        pass
    return workdir


def apt_error(stdout, stderr):
    lines = [line for line in (stderr + "\n" + stdout).splitlines() if line.startswith(("E:", "W:", "Err:"))]
    return "; ".join(lines[:5]) or (stderr.strip() or stdout.strip())[:500]


def read_releases(lists_dir):
    """{list file name: Release fields + _mtime} of the lists directory."""
    releases = {}
    paths = glob.glob(os.path.join(lists_dir, "*_Release")) + glob.glob(
        os.path.join(lists_dir, "*_InRelease")
    )
    for path in sorted(paths):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                fields = parse_release(handle.read(16384))
            fields["_mtime"] = os.stat(path).st_mtime
        except OSError:
            continue
        releases[os.path.basename(path)] = fields
    return releases


def served_since(uri, timeout):
    """When the mirror got this .deb: its Last-Modified (HEAD), or the file's mtime for file: URIs."""
    if uri.startswith("file:"):
        try:
            stamp = os.stat("/" + urllib.parse.unquote(uri[5:]).lstrip("/")).st_mtime
        except OSError:
            return None
        return datetime.datetime.fromtimestamp(stamp, UTC)
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        request = urllib.request.Request(uri, method="HEAD", headers={"User-Agent": "hisguard-patching"})
        with urllib.request.urlopen(request, timeout=timeout) as response:  # the host's own apt source
            return parse_http_date(response.headers.get("Last-Modified"))
    except (OSError, ValueError):
        return None


def probe(args):
    """Everything the role reports, as one dict (see the module docstring)."""
    aware_now = datetime.datetime.now(UTC).astimezone()
    window = window_state(args["window"], aware_now.replace(tzinfo=None))
    window.update(ignored=bool(args.get("ignore_window")), config=args["window"])
    window_open = window["open"] or window["ignored"]
    timeout = int(args.get("timeout", 300))
    apt_get = which("apt-get")
    mode = args.get("lists", "private")
    errors, pending, kept_back = [], [], []
    lists = {
        "mode": mode,
        "directory": None,
        "sources": [],
        "releases": [],
        "refreshed": None,
        "age_days": None,
    }
    releases = {}
    workdir = None
    try:
        if not apt_get:
            errors.append("apt-get not found: the patching role supports Debian and Ubuntu hosts")
        elif mode == "private":
            workdir = prepare_workdir()
            lists["directory"] = os.path.join(workdir, "lists") + " (temporary, removed afterwards)"
            rc, out, err = run([apt_get, "-q", "--error-on=any", *apt_options(workdir), "update"], timeout)
            if rc == 0:
                lists["refreshed"] = aware_now.isoformat(timespec="seconds")
            else:
                errors.append(
                    "refreshing the package lists from the configured sources failed: " + apt_error(out, err)
                )
        else:
            lists["directory"] = SYSTEM_LISTS

        if apt_get:
            releases = read_releases(os.path.join(workdir, "lists") if workdir else SYSTEM_LISTS)
        for name, fields in sorted(releases.items()):
            lists["releases"].append(
                {
                    "file": name,
                    "origin": fields.get("Origin"),
                    "suite": fields.get("Suite"),
                    "date": fields.get("Date"),
                }
            )
            root = archive_root_of_list(name)
            if root and root.replace("_", "/") not in lists["sources"]:
                lists["sources"].append(root.replace("_", "/"))
        if mode == "system" and apt_get:
            if releases:
                newest = max(fields["_mtime"] for fields in releases.values())
                lists["age_days"] = round((time.time() - newest) / 86400.0, 1)
            else:
                errors.append(
                    f"no package lists in {SYSTEM_LISTS}: run `apt-get update`, "
                    "or audit with patching_audit_lists: private"
                )

        if apt_get and not errors:
            operation = (
                ["upgrade", "--with-new-pkgs"] if args.get("upgrade", "safe") == "safe" else ["dist-upgrade"]
            )
            rc, out, err = run([apt_get, "-s", *apt_options(workdir), *operation], timeout)
            if rc != 0:
                errors.append("simulating the upgrade failed: " + apt_error(out, err))
            else:
                simulation = parse_simulation(out)
                kept_back = simulation["kept_back"]
                uris = {}
                rc, out, _ = run([apt_get, "-qq", "--print-uris", *apt_options(workdir), *operation], timeout)
                if rc == 0:
                    for filename, uri in parse_print_uris(out).items():
                        uris[package_of_debfile(filename)[0]] = uri
                for update in simulation["install"]:
                    uri = uris.get(update["name"])
                    since, source = None, None
                    if uri and args.get("fetch_dates", True):
                        since = served_since(uri, min(timeout, 30))
                        source = "last-modified" if since else None
                    if since is None and uri:
                        since = release_date_for_uri(uri, releases)
                        source = "release-date" if since else None
                    update.update(
                        security=is_security(
                            update["releases"], args.get("security_patterns", ["*security*"])
                        ),
                        uri=uri,
                        available_since=since.isoformat(timespec="seconds") if since else None,
                        available_since_source=source,
                        age_days=age_days(since, aware_now),
                    )
                    pending.append(update)
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    required = os.path.exists(REBOOT_FLAG)
    reboot = {"required": required, "since": None, "packages": [], "container": is_container()}
    if required:
        stamp = os.stat(REBOOT_FLAG).st_mtime
        reboot["since"] = (
            datetime.datetime.fromtimestamp(stamp, UTC).astimezone().isoformat(timespec="seconds")
        )
        try:
            with open(REBOOT_FLAG + ".pkgs", encoding="utf-8", errors="replace") as handle:
                reboot["packages"] = sorted({line.strip() for line in handle if line.strip()})
        except OSError:
            pass
    reboot["decision"] = reboot_decision(
        args.get("reboot_policy", "never"),
        bool(args.get("enforce")),
        window_open,
        bool(args.get("updated")),
        required,
        reboot["container"],
    )
    ages = [u["age_days"] for u in pending if u["age_days"] is not None]
    status = {
        "now": aware_now.isoformat(timespec="seconds"),
        "window": window,
        "pending": pending,
        "kept_back": kept_back,
        "oldest_pending_days": max(ages) if ages else None,
        "lists": lists,
        "reboot": reboot,
        "errors": errors,
    }
    status["findings"] = evaluate(status, int(args.get("max_pending_age_days", 0)))
    return status


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: patching_status.py JSON-ARGUMENTS\n")
        return 2
    try:
        args = json.loads(argv[1])
        if not isinstance(args, dict) or "window" not in args:
            raise ValueError("the arguments must be a JSON object with at least `window`")
        if args.get("reboot_policy", "never") not in REBOOT_POLICIES:
            raise ValueError(
                "patching_reboot_policy: {!r} is not one of {}".format(
                    args["reboot_policy"], ", ".join(REBOOT_POLICIES)
                )
            )
        parse_window(args["window"])
    except ValueError as err:
        sys.stderr.write(f"patching_status: {err}\n")
        return 2
    json.dump(probe(args), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
