#!/usr/bin/python3
# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Read accounts, sudoers, PAM password policy and idle timeout on the host, and evaluate them.

Run by roles/accounts/tasks/read.yml (hisguard.infosec.probe) with one JSON document on stdin:
{"logic": <the source of plugins/module_utils/accounts.py>, "params": {...}}. Roles inside a
collection cannot ship their own modules, and the logic lives in module_utils so that it is
unit-tested (tests/unit/test_accounts.py). Prints one JSON document: the findings per control, the
accounts (a status per account, never a password hash) and what enforce may change.
Reads only; changes nothing. Python 3.8+ (the managed hosts' Python).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
import types

PAM_DIRS = ("/lib/*/security", "/usr/lib/*/security", "/lib/security", "/usr/lib/security", "/lib64/security")
SHELL_FILES = ("/etc/profile", "/etc/bash.bashrc", "/etc/environment")
PWQUALITY_DROPINS = "/etc/security/pwquality.conf.d"
CRACKLIB_DICT = "/var/cache/cracklib/cracklib_dict.pwd"
DEFAULTS = {
    "roster": [],
    "system_uid_max": 999,
    "forbidden_names": [],
    "admin_group": "hisadmin",
    "operator": "root",
    "protected": ["root"],
    "service_accounts": [],
    "delegated_groups": [],
    "sudo_allowed_principals": [],
    "password_policy": {},
    "faillock": {},
    "idle_timeout": 900,
}


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def listdir(path: str) -> list[str] | None:
    try:
        return os.listdir(path)
    except OSError:
        return None


def pam_module_present(name: str) -> bool:
    return any(glob.glob(os.path.join(pattern, name)) for pattern in PAM_DIRS)


def load_logic(source: str) -> types.ModuleType:
    logic = types.ModuleType("hisguard_accounts")
    exec(compile(source, "plugins/module_utils/accounts.py", "exec"), logic.__dict__)
    return logic


def fail(msg: str) -> None:
    print(json.dumps({"failed": True, "msg": msg}))
    sys.exit(1)


def sshd_dump() -> tuple[dict | None, str | None]:
    """`sshd -T` (the effective configuration), or None when sshd is not installed."""
    binary = shutil.which("sshd") or next(
        (path for path in ("/usr/sbin/sshd", "/sbin/sshd") if os.path.exists(path)), None
    )
    if binary is None:
        return None, None
    proc = subprocess.run([binary, "-T"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None, (proc.stderr or proc.stdout).strip() or f"sshd -T exited {proc.returncode}"
    return {"raw": proc.stdout}, None


def main() -> None:
    payload = json.load(sys.stdin)
    acc = load_logic(payload["logic"])
    p = {**DEFAULTS, **payload.get("params", {})}
    try:
        roster = acc.validate_roster(p["roster"], p["forbidden_names"])
    except acc.AccountsError as err:
        fail(str(err))

    passwd_text, group_text, shadow_text = read("/etc/passwd"), read("/etc/group"), read("/etc/shadow")
    if passwd_text is None or group_text is None or shadow_text is None:
        fail("cannot read /etc/passwd, /etc/group or /etc/shadow: the role needs root (become: true)")
    passwd = acc.parse_passwd(passwd_text)
    groups = acc.parse_group(group_text)
    shadow = acc.shadow_status(shadow_text, int(time.time() // 86400))
    del shadow_text
    memberships = acc.group_memberships(passwd, groups)
    # Members of delegated groups (vendor accounts) belong to another control's audit.
    delegated = {login for group in p["delegated_groups"] for login in memberships.get(group, [])}
    passwd = [entry for entry in passwd if entry["login"] not in delegated]
    memberships = {name: [m for m in logins if m not in delegated] for name, logins in memberships.items()}
    protected = sorted(set(p["protected"]) | {"root", p["operator"]})

    accounts = acc.evaluate_accounts(
        passwd,
        shadow,
        roster=roster,
        system_uid_max=p["system_uid_max"],
        forbidden_names=p["forbidden_names"],
        protected=protected,
        service_accounts=p["service_accounts"],
    )

    sudoers = acc.parse_sudoers(read, listdir)
    sudo = acc.evaluate_sudo(
        sudoers["grants"],
        memberships,
        roster=roster,
        admin_group=p["admin_group"],
        allowed_principals=[*p["sudo_allowed_principals"], *(f"%{g}" for g in p["delegated_groups"])],
        operator=p["operator"],
        protected=protected,
        existing_logins={e["login"] for e in passwd},
    )
    sudo["problems"] += [f"sudoers: {error}" for error in sudoers["errors"]]

    dropins = [
        (name, read(os.path.join(PWQUALITY_DROPINS, name)) or "")
        for name in sorted(listdir(PWQUALITY_DROPINS) or [])
        if name.endswith(".conf")
    ]
    password = acc.evaluate_password_policy(
        common_password=read("/etc/pam.d/common-password"),
        common_auth=read("/etc/pam.d/common-auth"),
        common_account=read("/etc/pam.d/common-account"),
        pwquality_main=read("/etc/security/pwquality.conf"),
        pwquality_dropins=dropins,
        faillock_conf=read("/etc/security/faillock.conf"),
        policy=p["password_policy"],
        faillock=p["faillock"],
        dictionary_present=os.path.exists(CRACKLIB_DICT),
        pwquality_module_present=pam_module_present("pam_pwquality.so"),
        shadow=shadow,
        passwd=passwd,
    )

    shell_files = [(path, read(path)) for path in SHELL_FILES]
    shell_files += [(path, read(path)) for path in sorted(glob.glob("/etc/profile.d/*.sh"))]
    assignments = acc.tmout_assignments([(path, text) for path, text in shell_files if text is not None])
    dump, sshd_error = sshd_dump()
    sshd = acc.parse_sshd_config_dump(dump["raw"]) if dump else None
    idle = acc.evaluate_idle_timeout(assignments, sshd, sshd_error, p["idle_timeout"])
    keys = ("clientaliveinterval", "clientalivecountmax", "usepam")
    idle["sshd"] = {k: sshd[k] for k in keys if k in sshd} if sshd else None

    print(
        json.dumps(
            {
                "failed": False,
                "accounts": accounts["accounts"],
                "operator_groups": acc.groups_of(p["operator"], memberships),
                "findings": {
                    "P1.2.7": accounts["P1.2.7"],
                    "P1.3.3": accounts["P1.3.3"],
                    "P1.3.10": {
                        "problems": sudo["problems"],
                        "good": sudo["good"],
                        "grants": [
                            {
                                "file": g["file"],
                                "line": g["line"],
                                "rule": g["text"],
                                "principals": g["principals"],
                            }
                            for g in sudoers["grants"]
                        ],
                        "sudoers_files": sudoers["files"],
                        "admin_members": sudo["members"],
                        "entitled_admins": sudo["entitled"],
                        "kept_for_operator": sudo["kept_for_operator"],
                    },
                    "P1.4.8": idle,
                    "P2.6.3": password,
                },
                "actions": {
                    "lock": accounts["lock"],
                    "sudo_disable": sudo["disable"],
                    "admin_remove": sudo["remove_members"],
                    "admin_add": sudo["add_members"],
                },
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
