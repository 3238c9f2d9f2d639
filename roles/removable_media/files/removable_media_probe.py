#!/usr/bin/python3
# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Read-only probe of hisguard.infosec.removable_media (control P1.3.6); prints one JSON document.

For each module: `modprobe -n -v MODULE` (the standard audit of a module block), the module's
`install`/`blacklist` lines in the effective configuration (`modprobe --showconfig`), and whether
it is built into the running kernel or loaded now. For each --file: existence, mode, owner and
SHA-256. With --usbguard: the service state, the rules the daemon has loaded and its implicit
policy target. The role judges the observations; this script changes nothing on the host.
Standard library only, Python 3.7+ (runs on the managed host).
"""

import argparse
import grp
import hashlib
import json
import os
import pwd
import stat
import subprocess
import sys

ENV = dict(os.environ, LC_ALL="C")


def run(argv):
    """Run a read-only command; never raises (a missing tool is reported, not fatal)."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"rc": None, "stdout": "", "stderr": str(err)}
    return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


def normalized(name):
    """Module names as the kernel and modprobe spell them (usb-storage -> usb_storage)."""
    return name.replace("-", "_")


def read_lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()
    except OSError:
        return None


def builtin_modules(release):
    lines = read_lines(os.path.join("/lib/modules", release, "modules.builtin"))
    if lines is None:
        return None
    names = set()
    for line in lines:
        base = os.path.basename(line.strip())
        if ".ko" in base:
            names.add(normalized(base.split(".ko", 1)[0]))
    return names


def loaded_modules():
    lines = read_lines("/proc/modules")
    if lines is None:
        return None
    return {line.split()[0] for line in lines if line.strip()}


def probe_modules(modules):
    release = os.uname().release
    builtin = builtin_modules(release)
    loaded = loaded_modules()
    config = run(["modprobe", "--showconfig"])
    config_lines = [line.strip() for line in config["stdout"].splitlines()]
    results = []
    for module in modules:
        name = normalized(module)
        dry_run = run(["modprobe", "-n", "-v", module])
        results.append(
            {
                "module": module,
                "modprobe_rc": dry_run["rc"],
                "modprobe_stdout": dry_run["stdout"].strip().splitlines(),
                "modprobe_stderr": dry_run["stderr"].strip(),
                "config_lines": [
                    line
                    for line in config_lines
                    if line.split()[:2] in (["blacklist", name], ["install", name])
                ],
                "builtin": None if builtin is None else name in builtin,
                "loaded": None if loaded is None else name in loaded,
            }
        )
    return {
        "kernel_release": release,
        "showconfig_rc": config["rc"],
        "showconfig_stderr": config["stderr"].strip(),
        "modules_builtin_readable": builtin is not None,
        "proc_modules_readable": loaded is not None,
        "modules": results,
    }


def probe_file(path):
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return {"exists": False}
    except OSError as err:
        return {"exists": None, "error": str(err)}
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(65536), b""):
                digest.update(chunk)
    except OSError as err:
        return {"exists": True, "error": str(err)}
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return {
        "exists": True,
        "mode": f"{stat.S_IMODE(info.st_mode):04o}",
        "owner": owner,
        "group": group,
        "sha256": digest.hexdigest(),
    }


def probe_usbguard():
    show = run(["systemctl", "show", "usbguard.service", "--property=LoadState,ActiveState,UnitFileState"])
    service = dict(line.split("=", 1) for line in show["stdout"].splitlines() if "=" in line)
    rules = run(["usbguard", "list-rules"])
    implicit = run(["usbguard", "get-parameter", "ImplicitPolicyTarget"])
    return {
        "service": service,
        "rules_rc": rules["rc"],
        # `list-rules` numbers the rules: "1: allow id 0781:5567"
        "rules": [line.split(":", 1)[1].strip() for line in rules["stdout"].splitlines() if ":" in line],
        "rules_stderr": rules["stderr"].strip(),
        "implicit_policy_target": implicit["stdout"].strip() if implicit["rc"] == 0 else None,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", default=[], help="kernel module to check (repeat)")
    parser.add_argument("--file", action="append", default=[], help="file to describe (repeat)")
    parser.add_argument("--usbguard", action="store_true", help="also read USBGuard's state")
    args = parser.parse_args(argv)
    document = probe_modules(args.module)
    document["files"] = {path: probe_file(path) for path in args.file}
    if args.usbguard:
        document["usbguard"] = probe_usbguard()
    json.dump(document, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
