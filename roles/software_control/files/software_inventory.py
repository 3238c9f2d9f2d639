#!/usr/bin/python3
# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""software_inventory: the software_control role's read-only probe (P1.3.6, P1.3.7, P1.4.13, P2.5.6).

Run by the role with ansible.builtin.script (collection roles cannot carry their own modules): one JSON
argument in, one JSON document out on stdout; bad input is a message on stderr and exit code 2.
Standard library only, Python 3.8+ (it runs with the host's Python).

What it reads, changing nothing on the host:
- installed packages (dpkg-query), compared with the approved list (glob patterns)
- remote-desktop tools, each found by package, process (comm, executable or argv[0] name), systemd unit
  (service and socket units, glob) or listening port (/proc/net/tcp*, udp*), with the package that owns
  each unit file and executable (dpkg-query -S)
- for enforce, what removing the tools (and, when configured, the unapproved packages) would take:
  `apt-get -s purge` (apt's logs and binary caches redirected to a temporary directory), and which
  approved packages apt would remove along with them

The first half of this file is pure functions (unit-tested in tests/unit/test_software_control.py).
"""

import fnmatch
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOOL_KEYS = ("name", "packages", "processes", "units", "ports", "description")
PRESENT_STATUSES = (
    "installed",
    "half-installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
)
# How many unapproved packages the observed text names (the evidence lists them all).
OBSERVED_LIMIT = 25
UNIT_DIRS_LOCAL = ("/etc/systemd/system/", "/usr/local/lib/systemd/system/")
_REMOVE = re.compile(r"^(?P<op>Remv|Purg) (?P<name>\S+)(?: \[(?P<version>[^\]]*)\])?")
_INST = re.compile(r"^Inst (?P<name>\S+)")


# --------------------------------------------------------------------------- inputs


def parse_ports(specs, where="ports"):
    """[5900, "5900-5909", "3389/tcp"] -> sorted [(port, proto or None)]; ValueError naming `where`."""
    ports = set()
    for spec in specs or []:
        text = str(spec).strip().lower()
        proto = None
        if "/" in text:
            text, proto = text.split("/", 1)
            if proto not in ("tcp", "udp"):
                raise ValueError(f"{where}: {spec!r} has protocol {proto!r}; use tcp or udp")
        match = re.match(r"^(\d{1,5})(?:-(\d{1,5}))?$", text)
        if not match:
            raise ValueError(f"{where}: {spec!r} is not a port, a range such as 5900-5909, or port/tcp")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"{where}: {spec!r} is not within 1-65535 (low-high)")
        for port in range(low, high + 1):
            ports.add((port, proto))
    return sorted(ports, key=lambda item: (item[0], item[1] or ""))


def validate_tools(tools):
    """Check software_control_denied_remote_tools; returns them with every key present.

    Raises ValueError naming the entry and the key to fix."""
    if not isinstance(tools, list):
        raise ValueError("software_control_denied_remote_tools must be a list of tools")
    seen, normalized = set(), []
    for index, tool in enumerate(tools, start=1):
        if not isinstance(tool, dict) or not str(tool.get("name") or "").strip():
            raise ValueError(f"software_control_denied_remote_tools #{index} needs a `name`")
        name = str(tool["name"]).strip()
        where = f"software_control_denied_remote_tools {name}"
        unknown = sorted(set(tool) - set(TOOL_KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(TOOL_KEYS)}")
        if name in seen:
            raise ValueError(f"{where}: the name is used twice")
        seen.add(name)
        entry = {"name": name, "description": str(tool.get("description") or "")}
        for key in ("packages", "processes", "units"):
            value = tool.get(key) or []
            if isinstance(value, str) or not isinstance(value, list):
                raise ValueError(f"{where}.{key} must be a list")
            entry[key] = [str(v).strip() for v in value if str(v).strip()]
        entry["ports"] = parse_ports(tool.get("ports"), where + ".ports")
        if not any(entry[key] for key in ("packages", "processes", "units", "ports")):
            raise ValueError(f"{where}: give at least one of packages, processes, units or ports")
        normalized.append(entry)
    return normalized


def matches(name, patterns):
    """Whether `name` matches one of the glob patterns, case-insensitively."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


# --------------------------------------------------------------------------- parsing host output


def parse_dpkg_query(text):
    """`dpkg-query -W -f '${Package}\\t${Version}\\t${db:Status-Status}\\n'` -> the packages present."""
    packages = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0]:
            continue
        name, version, status = parts
        if status in PRESENT_STATUSES:
            packages[name] = {"name": name, "version": version, "status": status}
    return packages


def parse_unit_files(text):
    """`systemctl list-unit-files --no-legend` -> {unit: state}."""
    units = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and "." in parts[0]:
            units[parts[0]] = parts[1]
    return units


def parse_units(text):
    """`systemctl list-units --all --plain --no-legend` -> {unit: {load, active, sub}}."""
    units = {}
    for line in text.splitlines():
        parts = line.lstrip("● ").split()
        if len(parts) >= 4 and "." in parts[0]:
            units[parts[0]] = {"load": parts[1], "active": parts[2], "sub": parts[3]}
    return units


def parse_systemctl_show(text):
    """`systemctl show -p Id -p ... A B` (blocks separated by blank lines) -> {Id: {property: value}}."""
    found, block = {}, {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if block.get("Id"):
                found[block["Id"]] = block
            block = {}
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            block[key] = value
    return found


def parse_proc_net(text, proto):
    """/proc/net/{tcp,tcp6,udp,udp6} -> listening sockets [{proto, address, port, inode}].

    TCP counts in state 0A (LISTEN); UDP in state 07 (bound, unconnected).
    """
    wanted = "0A" if proto.startswith("tcp") else "07"
    sockets = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or parts[3] != wanted:
            continue
        address, _, port_hex = parts[1].rpartition(":")
        try:
            port = int(port_hex, 16)
        except ValueError:
            continue
        sockets.append(
            {"proto": proto.rstrip("6"), "address": decode_address(address), "port": port, "inode": parts[9]}
        )
    return sockets


def decode_address(hex_address):
    """The kernel's hex address (little-endian 32-bit words) as text: 0100007F -> 127.0.0.1."""
    try:
        raw = bytes.fromhex(hex_address)
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        return str(ipaddress.ip_address(words))
    except ValueError:
        return hex_address


def parse_dpkg_search(text):
    """`dpkg-query -S PATH...` -> {path: [packages]} (diversion lines skipped)."""
    owners = {}
    for line in text.splitlines():
        if line.startswith("diversion by") or line.startswith("dpkg-query:"):
            continue
        head, sep, rest = line.strip().partition(": /")
        if sep:
            packages = [p.strip().split(":", 1)[0] for p in head.split(",")]
            owners.setdefault("/" + rest, []).extend(p for p in packages if p)
    return owners


def path_aliases(path):
    """The same file under merged /usr: /usr/lib/x <-> /lib/x, /usr/bin <-> /bin, /usr/sbin <-> /sbin."""
    aliases = [path]
    for merged, plain in (("/usr/lib/", "/lib/"), ("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/")):
        if path.startswith(merged):
            aliases.append(plain + path[len(merged) :])
        elif path.startswith(plain):
            aliases.append(merged + path[len(plain) :])
    return aliases


def parse_purge_simulation(text):
    """`apt-get -s purge ...` -> {"removes": [names], "installs": [names]}."""
    removes, installs = [], []
    for line in text.splitlines():
        match = _REMOVE.match(line)
        if match:
            removes.append(match.group("name"))
            continue
        match = _INST.match(line)
        if match:
            installs.append(match.group("name"))
    return {"removes": removes, "installs": installs}


# --------------------------------------------------------------------------- evaluation


def match_tools(tools, packages, processes, units, sockets, approved_tools=()):
    """Find each denied tool on the host.

    packages: {name: {...}}; processes: [{pid, names, exe, package}]; units: [{name, load, active,
    file_state, fragment, package}]; sockets: [{proto, address, port, pid, process}].
    Returns (found, approved_present): found = [{name, packages, processes, units, ports}] for tools with
    at least one hit; approved_present = names of approved tools that were seen.
    """
    found, approved_present = [], []
    for tool in tools:
        hit = {"name": tool["name"], "packages": [], "processes": [], "units": [], "ports": []}
        owned = set()
        for unit in units:
            if tool["units"] and matches(unit["name"], tool["units"]):
                if unit.get("load") == "not-found" or unit.get("file_state") == "masked":
                    continue
                hit["units"].append(unit)
                owned.update(unit.get("packages") or [])
        for process in processes:
            if tool["processes"] and any(matches(n, tool["processes"]) for n in process["names"]):
                hit["processes"].append(process)
                owned.update(process.get("packages") or [])
        named = {name for name in packages if tool["packages"] and matches(name, tool["packages"])}
        hit["packages"] = sorted(named | owned)
        for sock in sockets:
            for port, proto in tool["ports"]:
                if sock["port"] == port and (proto is None or proto == sock["proto"]):
                    hit["ports"].append(sock)
                    break
        if any(hit[key] for key in ("packages", "processes", "units", "ports")):
            if tool["name"] in approved_tools:
                approved_present.append(tool["name"])
            else:
                found.append(hit)
    return found, approved_present


def unapproved_packages(packages, approved_patterns, excluded=()):
    """Installed packages that match no approved pattern, minus `excluded` (reported as remote tools)."""
    return [
        packages[name]
        for name in sorted(packages)
        if name not in excluded and not matches(name, approved_patterns)
    ]


def describe_tool(hit):
    """One line per tool found: `anydesk: package anydesk; process anydesk (pid 12, /usr/bin/anydesk)`."""
    parts = []
    if hit["packages"]:
        parts.append("package " + ", ".join(hit["packages"]))
    if hit["processes"]:
        shown = []
        for p in hit["processes"]:
            exe = f", {p['exe']}" if p.get("exe") else ""
            shown.append(f"{p['names'][0]} (pid {p['pid']}{exe})")
        parts.append("process " + ", ".join(shown))
    if hit["units"]:
        parts.append(
            "unit " + ", ".join(f"{u['name']} ({u['active']}, {u['file_state']})" for u in hit["units"])
        )
    if hit["ports"]:
        shown = []
        for sock in hit["ports"]:
            owner = f" by {sock['process']}" if sock.get("process") else ""
            shown.append(f"{sock['port']}/{sock['proto']} on {sock['address']}{owner}")
        parts.append("listening " + ", ".join(shown))
    return f"{hit['name']}: " + "; ".join(parts)


def removal_packages(remote_tools, unapproved, remove_unapproved):
    """Packages enforce purges: every remote tool's packages, plus the unapproved ones when configured."""
    names = []
    for hit in remote_tools:
        names.extend(hit["packages"])
    if remove_unapproved:
        names.extend(p["name"] for p in unapproved)
    return sorted(set(names))


def blocked_removals(requested, apt_removes, approved_patterns):
    """Approved packages the removal would take, requested or pulled along by apt (enforce refuses then)."""
    return sorted(n for n in set(requested) | set(apt_removes) if matches(n, approved_patterns))


def evaluate(status):
    """{"problems", "good", "errors"} of one host from the probe's result."""
    problems, good, errors = [], [], list(status.get("errors") or [])
    for hit in status.get("remote_tools") or []:
        problems.append("remote-desktop tool " + describe_tool(hit))
    unapproved = status.get("unapproved") or []
    if unapproved:
        shown = ", ".join(f"{p['name']} {p['version']}" for p in unapproved[:OBSERVED_LIMIT])
        more = len(unapproved) - OBSERVED_LIMIT
        if more > 0:
            shown += f" and {more} more (all in the evidence)"
        problems.append(f"{len(unapproved)} package(s) not on the approved list: {shown}")
    if not errors:
        if not status.get("remote_tools"):
            good.append("no remote-desktop tool found by package, process, unit or listening port")
        if not unapproved:
            good.append(f"all {status.get('installed_count', 0)} installed packages are on the approved list")
        for name in status.get("approved_remote_tools_present") or []:
            good.append("approved remote-desktop tool present: " + name)
        if status.get("units_checked") is False:
            good.append("systemd units not checked: the host does not run systemd")
    return {"problems": problems, "good": good, "errors": errors}


# --------------------------------------------------------------------------- reading the host

ENV = {"LC_ALL": "C", "LANG": "C", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"}


def run(argv, timeout=120):
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=dict(os.environ, **ENV), timeout=timeout
        )
    except (OSError, subprocess.SubprocessError) as err:
        return 127, "", str(err)
    return proc.returncode, proc.stdout, proc.stderr


def which(name):
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin")


def read(path, limit=65536):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return None


def read_processes():
    processes = []
    own = {os.getpid(), os.getppid()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in own:
            continue
        comm = read(f"/proc/{entry}/comm")
        if comm is None:
            continue
        names = [comm.decode("utf-8", "replace").strip()]
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
        except OSError:
            exe = None
        if exe:
            exe = exe[: -len(" (deleted)")] if exe.endswith(" (deleted)") else exe
            names.append(os.path.basename(exe))
        argv0 = (read(f"/proc/{entry}/cmdline", 4096) or b"").split(b"\0", 1)[0].decode("utf-8", "replace")
        if argv0:
            names.append(os.path.basename(argv0.split()[0]) if argv0.split() else argv0)
        unique = []
        for name in names:
            if name and name not in unique:
                unique.append(name)
        processes.append({"pid": int(entry), "names": unique, "exe": exe})
    return processes


def socket_owners(inodes):
    """{socket inode: (pid, process name)} for the given inodes (scans /proc/*/fd)."""
    owners = {}
    if not inodes:
        return owners
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
            except OSError:
                continue
            if target in wanted and wanted[target] not in owners:
                comm = (read(f"/proc/{entry}/comm") or b"").decode("utf-8", "replace").strip()
                owners[wanted[target]] = (int(entry), comm)
    return owners


def read_sockets():
    sockets = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        text = read(f"/proc/net/{proto}", 4 * 1024 * 1024)
        if text is not None:
            sockets.extend(parse_proc_net(text.decode("ascii", "replace"), proto))
    return sockets


def read_units(errors):
    systemctl = which("systemctl")
    if not systemctl or not os.path.isdir("/run/systemd/system"):
        return None  # not a systemd host: units are not checked (reported in the evidence)
    rc, files_out, err = run(
        [systemctl, "list-unit-files", "--no-legend", "--no-pager", "--type=service,socket"]
    )
    if rc != 0:
        errors.append("systemctl list-unit-files failed: " + (err.strip() or files_out.strip())[:300])
        return None
    rc, units_out, err = run(
        [systemctl, "list-units", "--all", "--plain", "--no-legend", "--no-pager", "--type=service,socket"]
    )
    if rc != 0:
        errors.append("systemctl list-units failed: " + (err.strip() or units_out.strip())[:300])
        return None
    files, loaded = parse_unit_files(files_out), parse_units(units_out)
    units = []
    for name in sorted(set(files) | set(loaded)):
        state = loaded.get(name, {})
        units.append(
            {
                "name": name,
                "load": state.get("load", "loaded" if name in files else "not-found"),
                "active": state.get("active", "inactive"),
                "file_state": files.get(name, "-"),
            }
        )
    return units


def owners_of(paths):
    """{path: [packages]} through dpkg-query -S, trying the merged-/usr aliases of each path."""
    dpkg_query = which("dpkg-query")
    if not paths or not dpkg_query:
        return {}
    candidates = sorted({alias for path in paths for alias in path_aliases(path)})
    _, out, _ = run([dpkg_query, "-S", *candidates])
    found = parse_dpkg_search(out)
    return {path: sorted({p for alias in path_aliases(path) for p in found.get(alias, [])}) for path in paths}


def simulate_purge(names, timeout):
    """apt-get -s purge NAMES with apt's logs and binary caches kept out of the host's state."""
    apt_get = which("apt-get")
    if not apt_get:
        return None, "apt-get not found"
    workdir = tempfile.mkdtemp(prefix="hisguard-swctl-")
    try:
        options = [
            "-o",
            "Debug::NoLocking=1",
            "-o",
            "Dir::Cache::pkgcache=",
            "-o",
            "Dir::Cache::srcpkgcache=",
        ]
        options += ["-o", "Dir::Log=" + workdir]
        rc, out, err = run([apt_get, "-s", *options, "purge", *names], timeout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if rc != 0:
        lines = [line for line in (err + "\n" + out).splitlines() if line.startswith(("E:", "W:"))]
        return None, "; ".join(lines[:5]) or (err.strip() or out.strip())[:500]
    return parse_purge_simulation(out), None


def probe(args):
    tools = validate_tools(args.get("denied_tools") or [])
    approved = [str(p) for p in args.get("approved_packages") or []]
    approved_tools = [str(t) for t in args.get("approved_remote_tools") or []]
    timeout = int(args.get("timeout", 120))
    errors = []

    packages = {}
    dpkg_query = which("dpkg-query")
    if not dpkg_query:
        errors.append("dpkg-query not found: the software_control role supports Debian and Ubuntu hosts")
    else:
        rc, out, err = run([dpkg_query, "-W", "-f", "${Package}\t${Version}\t${db:Status-Status}\n"], timeout)
        if rc != 0:
            errors.append("dpkg-query failed: " + (err.strip() or out.strip())[:300])
        packages = parse_dpkg_query(out)

    processes = read_processes()
    units = read_units(errors)
    sockets = read_sockets()

    # Only the units, processes and sockets that match a tool need their owners resolved.
    all_unit_globs = [g for tool in tools for g in tool["units"]]
    all_process_globs = [g for tool in tools for g in tool["processes"]]
    all_ports = {port for tool in tools for port, _ in tool["ports"]}
    candidate_units = [u for u in units or [] if all_unit_globs and matches(u["name"], all_unit_globs)]
    candidate_processes = [
        p for p in processes if all_process_globs and any(matches(n, all_process_globs) for n in p["names"])
    ]
    candidate_sockets = [s for s in sockets if s["port"] in all_ports]

    systemctl = which("systemctl")
    if candidate_units and systemctl:
        _, out, _ = run(
            [
                systemctl,
                "show",
                "-p",
                "Id",
                "-p",
                "FragmentPath",
                "-p",
                "UnitFileState",
                "-p",
                "ActiveState",
                "--",
            ]
            + [u["name"] for u in candidate_units]
        )
        shown = parse_systemctl_show(out)
        for unit in candidate_units:
            detail = shown.get(unit["name"], {})
            unit["fragment"] = detail.get("FragmentPath") or None
            unit["active"] = detail.get("ActiveState", unit["active"])
    # A process's package is the one owning its executable, and only when the executable itself carries
    # the tool's name: a script named `anydesk` runs as /usr/bin/python3, whose package is not the tool.
    own_exe = [
        p
        for p in candidate_processes
        if p.get("exe") and matches(os.path.basename(p["exe"]), all_process_globs)
    ]
    owners = owners_of(
        [u["fragment"] for u in candidate_units if u.get("fragment")] + [p["exe"] for p in own_exe]
    )
    for unit in candidate_units:
        unit["packages"] = owners.get(unit.get("fragment"), [])
    for process in candidate_processes:
        process["packages"] = owners.get(process["exe"], []) if process in own_exe else []
    socket_map = socket_owners({s["inode"] for s in candidate_sockets})
    for sock in candidate_sockets:
        pid, comm = socket_map.get(sock["inode"], (None, None))
        sock.update(pid=pid, process=comm)

    remote_tools, approved_present = match_tools(
        tools, packages, candidate_processes, candidate_units, candidate_sockets, approved_tools
    )
    tool_packages = {name for hit in remote_tools for name in hit["packages"]}
    tool_packages |= {
        name
        for tool in tools
        if tool["name"] in approved_present
        for name in packages
        if tool["packages"] and matches(name, tool["packages"])
    }
    unapproved = unapproved_packages(packages, approved, excluded=tool_packages) if packages else []

    status = {
        "installed_count": len(packages),
        "unapproved": unapproved,
        "remote_tools": remote_tools,
        "approved_remote_tools_present": approved_present,
        "units_checked": units is not None,
        "errors": errors,
    }

    # What enforce would do, so it can refuse before changing anything.
    plan = {"packages": [], "apt_removes": [], "apt_installs": [], "blocked": [], "error": None}
    plan["packages"] = removal_packages(remote_tools, unapproved, bool(args.get("remove_unapproved")))
    if args.get("plan_removal") and plan["packages"]:
        simulation, error = simulate_purge(plan["packages"], timeout)
        if error:
            plan["error"] = error
        else:
            plan["apt_removes"] = simulation["removes"]
            plan["apt_installs"] = simulation["installs"]
            plan["blocked"] = blocked_removals(plan["packages"], simulation["removes"], approved)
    stop, unit_files = [], []
    for hit in remote_tools:
        for unit in hit["units"]:
            base = unit["name"].split("@", 1)
            template = len(base) == 2 and base[1].startswith(".")
            if not template and (
                unit["active"] in ("active", "activating", "reloading")
                or unit["file_state"]
                in (
                    "enabled",
                    "enabled-runtime",
                    "linked",
                    "linked-runtime",
                )
            ):
                stop.append(unit["name"])
            fragment = unit.get("fragment")
            if fragment and not unit.get("packages") and fragment.startswith(UNIT_DIRS_LOCAL):
                unit_files.append(fragment)
    plan["units_to_stop"] = sorted(set(stop))
    plan["unit_files_to_remove"] = sorted(set(unit_files))
    plan["pids"] = sorted({p["pid"] for hit in remote_tools for p in hit["processes"]})
    status["plan"] = plan
    status["findings"] = evaluate(status)
    return status


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: software_inventory.py JSON-ARGUMENTS\n")
        return 2
    try:
        args = json.loads(argv[1])
        if not isinstance(args, dict):
            raise ValueError("the arguments must be a JSON object")
        validate_tools(args.get("denied_tools") or [])
        for key in ("approved_packages", "approved_remote_tools"):
            value = args.get(key) or []
            if isinstance(value, str) or not isinstance(value, list):
                raise ValueError(f"software_control_{key} must be a list")
    except ValueError as err:
        sys.stderr.write(f"software_inventory: {err}\n")
        return 2
    json.dump(probe(args), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
