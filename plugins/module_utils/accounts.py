# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Accounts, sudo, password policy and idle timeout: the pure logic of the `accounts` role.

Plain functions over plain data (file texts, lists, dicts), no Ansible imports, so they can be
unit-tested on the controller and shipped to hosts inside the role's module
(roles/accounts/library/hisguard_accounts_info.py). Runs on Python 3.8+ (the managed hosts' Python).

Nothing here ever returns a password hash: /etc/shadow is reduced to a status per account
(set, locked, empty) and the expiry day.

Controls (one finding list each):
  P1.2.7   no accounts of outsiders: every usable personal account is on the employee-ID roster
  P1.3.3   personal logins only: no shared, guest or generic accounts, no second UID 0, no shared UIDs
  P1.3.10  sudo only for the admin group, whose members the roster entitles
  P1.4.8   idle sessions end: TMOUT in the login shells, sshd ClientAlive settings
  P2.6.3   password quality (pam_pwquality), lockout (pam_faillock), no empty passwords
"""

from __future__ import annotations

import re

NOLOGIN_SHELLS = frozenset({"", "/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false"})
NOBODY_UID = 65534
LOGIN_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,30}\$?$")
GROUP_RE = LOGIN_RE

# pwquality.conf keys the role manages, and how a value compares to the policy.
#   min:  at least the policy value (longer, more classes)
#   max:  at most the policy value (credits: more negative is stricter)
#   limit: a positive limit at most the policy value (0 switches the check off)
#   flag: switched on when the policy says true
#   any:  reported, not compared
PWQUALITY_KEYS = {
    "minlen": "min",
    "minclass": "min",
    "difok": "min",
    "dcredit": "max",
    "ucredit": "max",
    "lcredit": "max",
    "ocredit": "max",
    "maxrepeat": "limit",
    "maxclassrepeat": "limit",
    "maxsequence": "limit",
    "dictcheck": "min",
    "usercheck": "min",
    "gecoscheck": "min",
    "enforcing": "min",
    "retry": "any",
    "enforce_for_root": "flag",
    "local_users_only": "flag",
}
# libpwquality's own defaults (pwquality.conf(5)), used when nothing sets a key.
PWQUALITY_DEFAULTS = {
    "minlen": 8,
    "minclass": 0,
    "difok": 1,
    "dcredit": 0,
    "ucredit": 0,
    "lcredit": 0,
    "ocredit": 0,
    "maxrepeat": 0,
    "maxclassrepeat": 0,
    "maxsequence": 0,
    "dictcheck": 1,
    "usercheck": 1,
    "gecoscheck": 0,
    "enforcing": 1,
    "retry": 1,
    "enforce_for_root": False,
    "local_users_only": False,
}
FAILLOCK_KEYS = {"deny": "max_positive", "unlock_time": "min_or_zero", "fail_interval": "min"}
FAILLOCK_DEFAULTS = {"deny": 3, "unlock_time": 600, "fail_interval": 900}


class AccountsError(ValueError):
    """Bad input (roster, policy); the message names what to fix."""


# --------------------------------------------------------------------------- databases


def parse_passwd(text: str) -> list[dict]:
    """Entries of /etc/passwd (login, uid, gid, gecos, home, shell); malformed lines are skipped."""
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("#", "+", "-")):
            continue
        fields = line.split(":")
        if len(fields) < 7 or not fields[2].isdigit() or not fields[3].isdigit():
            continue
        entries.append(
            {
                "login": fields[0],
                "uid": int(fields[2]),
                "gid": int(fields[3]),
                "gecos": fields[4],
                "home": fields[5],
                "shell": ":".join(fields[6:]).strip(),
            }
        )
    return entries


def parse_group(text: str) -> list[dict]:
    """Entries of /etc/group (name, gid, members)."""
    groups = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 4 or not fields[2].isdigit():
            continue
        members = [m.strip() for m in fields[3].split(",") if m.strip()]
        groups.append({"name": fields[0], "gid": int(fields[2]), "members": members})
    return groups


def shadow_status(text: str, today: int) -> dict:
    """login -> {password: set|locked|empty, expired: bool, expire_day: int|None}; never the hash.

    `today` is the day number since 1970-01-01 (as /etc/shadow counts).
    """
    status = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 8 or not fields[0]:
            continue
        secret = fields[1]
        if secret == "":
            password = "empty"
        elif secret.startswith(("!", "*")):
            password = "locked"
        else:
            password = "set"
        expire = int(fields[7]) if fields[7].strip().isdigit() else None
        status[fields[0]] = {
            "password": password,
            "expire_day": expire,
            "expired": expire is not None and expire <= today,
        }
    return status


def group_memberships(passwd: list[dict], groups: list[dict]) -> dict:
    """group name -> sorted logins, with primary-group members (passwd gid) included."""
    by_gid = {g["gid"]: g["name"] for g in groups}
    members = {g["name"]: set(g["members"]) for g in groups}
    for entry in passwd:
        name = by_gid.get(entry["gid"])
        if name is not None:
            members[name].add(entry["login"])
    return {name: sorted(logins) for name, logins in members.items()}


def groups_of(login: str, memberships: dict) -> list[str]:
    return sorted(name for name, logins in memberships.items() if login in logins)


# --------------------------------------------------------------------------- roster, shared accounts


def validate_roster(roster, forbidden_names) -> list[dict]:
    """The roster as a clean list; raises AccountsError naming the entry to fix."""
    if not isinstance(roster, list):
        raise AccountsError("accounts_roster must be a list of {login, employee_id, name, groups}")
    seen = {}
    clean = []
    for index, entry in enumerate(roster, start=1):
        where = f"accounts_roster entry {index}"
        if not isinstance(entry, dict):
            raise AccountsError(f"{where} must be a mapping with login, employee_id, name and groups")
        login = str(entry.get("login") or "").strip()
        employee_id = str(entry.get("employee_id") or "").strip()
        name = str(entry.get("name") or "").strip()
        groups = entry.get("groups") or []
        if not login or not LOGIN_RE.match(login):
            raise AccountsError(
                f"{where}: login {login!r} is not a valid Linux login (lower case letters, digits, _ . -)"
            )
        where = f"accounts_roster entry {index} ({login})"
        if not employee_id:
            raise AccountsError(f"{where} has no employee_id (工号); every personal account needs one")
        if not name:
            raise AccountsError(f"{where} has no name")
        if not isinstance(groups, list) or not all(isinstance(g, str) and GROUP_RE.match(g) for g in groups):
            raise AccountsError(f"{where}: groups must be a list of group names")
        if login in seen:
            raise AccountsError(f"{where}: login {login} is listed twice (entries {seen[login]} and {index})")
        hit = forbidden_match(login, "", forbidden_names)
        if hit:
            raise AccountsError(
                f"{where}: login {login} looks like a shared or generic account ({hit}); "
                "personal accounts need a personal login"
            )
        seen[login] = index
        clean.append({"login": login, "employee_id": employee_id, "name": name, "groups": list(groups)})
    return clean


def forbidden_match(login: str, gecos: str, forbidden_names) -> str | None:
    """Why an account looks shared/generic, or None.

    A login matches a forbidden name when equal to it, optionally followed by a separator and/or
    digits (guest, guest01, test_2, shared-1), case-insensitively. The GECOS field matches when one
    of its words equals a forbidden name, or when a forbidden name written in non-ASCII (公用) appears
    anywhere in it.
    """
    low = login.lower()
    for word in forbidden_names:
        w = str(word).strip().lower()
        if not w:
            continue
        if re.fullmatch(re.escape(w) + r"([-_.]?\d*)", low):
            return f"login matches forbidden name '{word}'"
    tokens = _words(gecos.lower())
    for word in forbidden_names:
        w = str(word).strip().lower()
        if not w:
            continue
        if w in tokens or (not w.isascii() and w in gecos.lower()):
            return f"GECOS '{gecos}' names forbidden word '{word}'"
    return None


def _words(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,;:()\[\]/]+", text) if t]


def _usable(entry: dict, shadow: dict) -> bool:
    """Whether an account can still log in: not expired and with a login shell."""
    state = shadow.get(entry["login"], {})
    return not state.get("expired", False) and entry["shell"] not in NOLOGIN_SHELLS


def evaluate_accounts(
    passwd: list[dict],
    shadow: dict,
    *,
    roster: list[dict],
    system_uid_max: int,
    forbidden_names,
    protected,
    service_accounts,
) -> dict:
    """Findings for P1.2.7 (outsiders) and P1.3.3 (shared/generic accounts), and what enforce may lock.

    Returns {"P1.2.7": {...}, "P1.3.3": {...}, "lock": [logins], "accounts": [...]}, where each
    control holds `problems` and `good` (lists of strings) and evidence lists.
    """
    roster_by_login = {r["login"]: r for r in roster}
    service = {s["login"] if isinstance(s, dict) else str(s) for s in service_accounts}
    protected = set(protected)
    accounts = []
    unknown, outsiders, matched, service_seen = [], [], [], []
    shared, lock = [], []
    uids: dict = {}
    for entry in passwd:
        login = entry["login"]
        state = shadow.get(login, {"password": "unknown", "expired": False, "expire_day": None})
        human = system_uid_max < entry["uid"] < NOBODY_UID
        usable = _usable(entry, shadow)
        accounts.append(
            {
                "login": login,
                "uid": entry["uid"],
                "gecos": entry["gecos"],
                "shell": entry["shell"],
                "human": human,
                "password": state["password"],
                "expired": state["expired"],
                "usable": usable,
                "roster": login in roster_by_login,
            }
        )
        uids.setdefault(entry["uid"], []).append(login)
        if login in roster_by_login:
            r = roster_by_login[login]
            matched.append(
                {
                    "login": login,
                    "employee_id": r["employee_id"],
                    "name": r["name"],
                    "gecos": entry["gecos"],
                    "gecos_names_employee_id": r["employee_id"] in _words(entry["gecos"]),
                }
            )
        elif login in service:
            service_seen.append(login)
        elif human:
            (outsiders if usable else unknown).append(login)
            if usable and login not in protected:
                lock.append(login)
        if login not in roster_by_login and login not in service:
            # system accounts are matched by login only: their GECOS describes a daemon
            # ("PostgreSQL administrator"), not a person
            why = forbidden_match(login, entry["gecos"] if human else "", forbidden_names)
            if why and usable:
                shared.append(f"{login} (uid {entry['uid']}): {why}")
                if login not in protected and login not in lock:
                    lock.append(login)
            if login != "root" and not human and state["password"] == "set" and usable:
                shared.append(
                    f"{login} (system uid {entry['uid']}): system account with a usable password "
                    "and a login shell, a shared login"
                )
    for uid, logins in sorted(uids.items()):
        if uid == 0 and logins != ["root"] and len(logins) > 0:
            others = [lg for lg in logins if lg != "root"]
            if others:
                shared.append(f"uid 0 is also used by {', '.join(others)}: a second root identity")
        elif len(logins) > 1:
            shared.append(f"uid {uid} is shared by {', '.join(logins)}: one identity for several logins")

    outsider_problems = [
        f"{login}: personal account (uid {next(e['uid'] for e in passwd if e['login'] == login)}) "
        "not on the employee-ID roster"
        + (
            " (the operator's account: add it to the roster; never locked by this role)"
            if login in protected
            else ""
        )
        for login in outsiders
    ]
    roster_absent = sorted(set(roster_by_login) - {e["login"] for e in passwd})
    return {
        "P1.2.7": {
            "problems": outsider_problems,
            "good": [f"{len(matched)} roster account(s) matched to employee IDs; none outside the roster"],
            "matched": matched,
            "disabled_unknown": unknown,
            "service_accounts": service_seen,
            "roster_not_on_host": roster_absent,
        },
        "P1.3.3": {
            "problems": shared,
            "good": ["no shared, guest or generic account; no second UID 0; no shared UID"],
        },
        "lock": lock,
        "accounts": accounts,
    }


# --------------------------------------------------------------------------- sudoers


def _join_continuations(text: str) -> list[tuple[int, str, list[str]]]:
    """Logical lines (first line number, text, physical lines) with backslash continuations joined."""
    out, buf, raw, start = [], "", [], 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not raw:
            start = number
        raw.append(line)
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        out.append((start, buf, raw))
        buf, raw = "", []
    if raw:
        out.append((start, buf, raw))
    return out


def _strip_comment(line: str) -> str:
    """Drop a `#` comment, keeping `#123` user IDs inside a line."""
    result = []
    for i, ch in enumerate(line):
        uid = i > 0 and line[i - 1] in " \t,!" and line[i + 1 : i + 2].isdigit()
        if ch == "#" and not uid:
            break
        result.append(ch)
    return "".join(result).strip()


def parse_sudoers(read, listdir, main: str = "/etc/sudoers") -> dict:
    """Every user specification of the sudoers policy, following @include/@includedir.

    `read(path)` returns the text or None; `listdir(path)` the names in a directory or None.
    Returns {"grants": [...], "files": [...], "errors": [...]}; each grant is
    {file, line, text, raw, users, principals} with User_Alias names expanded.
    """
    grants, files, errors, aliases = [], [], [], {}
    seen = set()

    def visit(path: str, depth: int) -> None:
        if path in seen or depth > 8:
            return
        seen.add(path)
        text = read(path)
        if text is None:
            errors.append(f"{path}: cannot be read")
            return
        files.append(path)
        for number, logical, raw in _join_continuations(text):
            stripped = logical.strip()
            directive = re.match(r"^[@#](include|includedir)\s+(\S+)", stripped)
            if directive:
                target = directive.group(2)
                if not target.startswith("/"):
                    target = path.rsplit("/", 1)[0] + "/" + target
                if directive.group(1) == "include":
                    visit(target, depth + 1)
                else:
                    names = listdir(target)
                    if names is None:
                        continue
                    for name in sorted(names):
                        # sudo skips names ending in ~ or containing a dot
                        if name.endswith("~") or "." in name:
                            continue
                        visit(target.rstrip("/") + "/" + name, depth + 1)
                continue
            line = _strip_comment(stripped)
            if not line:
                continue
            keyword = line.split(None, 1)[0]
            if keyword.startswith("Defaults"):
                continue
            if keyword in ("Host_Alias", "Runas_Alias", "Cmnd_Alias", "Cmd_Alias"):
                continue
            if keyword == "User_Alias":
                for definition in line[len(keyword) :].split(":"):
                    if "=" in definition:
                        name, members = definition.split("=", 1)
                        aliases[name.strip()] = [m.strip() for m in members.split(",") if m.strip()]
                continue
            match = re.match(r"^(?P<users>[^\s,]+(?:\s*,\s*[^\s,]+)*)\s+\S.*=", line)
            if not match:
                errors.append(f"{path}:{number}: not understood: {line}")
                continue
            users = [u.strip() for u in match.group("users").split(",") if u.strip()]
            grants.append({"file": path, "line": number, "text": line, "raw": raw, "users": users})

    visit(main, 0)

    def expand(name: str, depth: int = 0) -> list[str]:
        bare = name.lstrip("!")
        if bare in aliases and depth < 8:
            return [p for member in aliases[bare] for p in expand(member, depth + 1)]
        return [name]

    for grant in grants:
        grant["principals"] = sorted({p for u in grant["users"] for p in expand(u)})
    return {"grants": grants, "files": files, "errors": errors}


def _principal_covers(principal: str, login: str, login_groups) -> bool:
    p = principal.strip('"')
    if p.startswith("!"):
        return False
    if p == "ALL":
        return True
    if p.startswith("%:"):
        return p[2:] in login_groups
    if p.startswith("%"):
        return p[1:] in login_groups
    return p == login


def evaluate_sudo(
    grants: list[dict],
    memberships: dict,
    *,
    roster: list[dict],
    admin_group: str,
    allowed_principals,
    operator: str,
    protected,
    existing_logins,
) -> dict:
    """Findings for P1.3.10: sudo rights only through the admin group, whose members the roster lists.

    Returns problems/good plus what enforce may do: `disable` (grants to comment out, never one that
    covers the operator), `remove_members` and `add_members` of the admin group (never the operator).
    """
    allowed = {"root", f"%{admin_group}", f"%:{admin_group}"} | set(allowed_principals)
    operator_groups = set(groups_of(operator, memberships))
    problems, disable, kept_for_operator = [], [], []
    for grant in grants:
        outside = [p for p in grant["principals"] if p.strip('"') not in allowed and not p.startswith("!")]
        if not outside:
            continue
        where = f"{grant['file']}:{grant['line']}"
        covers_operator = operator != "root" and any(
            _principal_covers(p, operator, operator_groups) for p in outside
        )
        problems.append(
            f"{where}: sudo for {', '.join(outside)} outside the admin group %{admin_group}: {grant['text']}"
            + (" (kept: it covers the operator account)" if covers_operator else "")
        )
        if covers_operator:
            kept_for_operator.append(where)
        elif len(grant["raw"]) == 1:
            disable.append({"file": grant["file"], "line": grant["line"], "raw": grant["raw"][0]})
    entitled = sorted(r["login"] for r in roster if admin_group in r["groups"])
    members = memberships.get(admin_group)
    group_problems, remove = [], []
    if members is None and entitled:
        group_problems.append(f"the admin group {admin_group} does not exist")
    for login in members or []:
        if login not in entitled:
            group_problems.append(
                f"{login} is in the admin group {admin_group} but the roster does not grant it"
                + (
                    " (the operator's account: add it to the roster; never removed)"
                    if login in protected
                    else ""
                )
            )
            if login not in protected and login != operator:
                remove.append(login)
    # roster admins whose accounts exist on this host but miss the group
    add = [login for login in entitled if login in existing_logins and login not in (members or [])]
    for login in add:
        group_problems.append(f"{login} is a roster admin but not in the admin group {admin_group}")
    grant_to_group = any(
        f"%{admin_group}" in g["principals"] or f"%:{admin_group}" in g["principals"] for g in grants
    )
    if entitled and not grant_to_group:
        group_problems.append(
            f"no sudoers rule grants %{admin_group}; the roster's admins have no sudo rights"
        )
    return {
        "problems": problems + group_problems,
        "good": [f"sudo only for root and %{admin_group} (members: {', '.join(members or []) or 'none'})"],
        "disable": disable,
        "kept_for_operator": kept_for_operator,
        "remove_members": remove,
        "add_members": add,
        "entitled": entitled,
        "members": members or [],
    }


# --------------------------------------------------------------------------- PAM, pwquality, faillock


def parse_conf(text: str) -> dict:
    """`key = value` / bare `flag` lines (pwquality.conf, faillock.conf); later lines win."""
    values = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
        else:
            values[line.split()[0]] = True
    return values


def pam_lines(text: str, module: str) -> list[dict]:
    """Lines of a PAM file that use `module` (e.g. pam_faillock.so): {index, type, control, args}."""
    found = []
    rules = [line for line in (raw.split("#", 1)[0].strip() for raw in text.splitlines()) if line]
    for index, line in enumerate(rules):
        control_match = re.match(r"^(-?\w+)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$", line)
        if not control_match:
            continue
        ptype, control, path, args = control_match.groups()
        if path.rsplit("/", 1)[-1] == module:
            found.append({"index": index, "type": ptype, "control": control, "args": args.split()})
    return found


def pam_index(text: str, module: str) -> int | None:
    lines = pam_lines(text, module)
    return lines[0]["index"] if lines else None


def _as_number(value):
    if isinstance(value, bool):
        return 1 if value else 0
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def effective_settings(
    dropins: list[tuple[str, str]], main_text: str | None, pam_args, defaults: dict
) -> dict:
    """Effective settings as libpwquality reads them: conf.d files (name order), then the main file,
    then the PAM module arguments. Returns {key: {"value", "source"}}."""
    effective = {key: {"value": value, "source": "default"} for key, value in defaults.items()}
    for name, text in sorted(dropins):
        for key, value in parse_conf(text).items():
            effective[key] = {"value": value, "source": name}
    if main_text is not None:
        for key, value in parse_conf(main_text).items():
            effective[key] = {"value": value, "source": "main"}
    for arg in pam_args:
        key, _, value = arg.partition("=")
        effective[key] = {"value": value if _ else True, "source": "pam"}
    return effective


def compare_policy(effective: dict, policy: dict, kinds: dict, label: str) -> list[str]:
    """Problems where an effective value is weaker than the policy."""
    problems = []
    for key, wanted in policy.items():
        kind = kinds.get(key, "any")
        got = effective.get(key, {}).get("value")
        source = effective.get(key, {}).get("source", "default")
        shown = f"{label} {key} is {got!r} ({source})"
        if kind == "flag":
            if wanted and got is not True and str(got).lower() not in ("1", "true", "yes"):
                problems.append(f"{label} {key} is not set (policy: on)")
            continue
        w, g = _as_number(wanted), _as_number(got)
        if w is None:
            continue
        if g is None:
            problems.append(f"{shown}, not a number (policy: {wanted})")
        elif (
            (kind == "min" and g < w)
            or (kind == "max" and g > w)
            or (kind == "limit" and w > 0 and (g == 0 or g > w))
            or (kind == "max_positive" and (g == 0 or g > w))
            or (kind == "min_or_zero" and g != 0 and g < w)
        ):
            problems.append(f"{shown}, weaker than the policy ({wanted})")
    return problems


def evaluate_password_policy(
    *,
    common_password: str | None,
    common_auth: str | None,
    common_account: str | None,
    pwquality_main: str | None,
    pwquality_dropins: list[tuple[str, str]],
    faillock_conf: str | None,
    policy: dict,
    faillock: dict,
    dictionary_present: bool,
    pwquality_module_present: bool,
    shadow: dict,
    passwd: list[dict],
) -> dict:
    """Findings for P2.6.3: pam_pwquality with the policy, pam_faillock with deny/unlock_time, no empty
    passwords. Returns problems/good and the effective settings as evidence."""
    problems = []
    pwq_lines = pam_lines(common_password or "", "pam_pwquality.so")
    unix_password = pam_index(common_password or "", "pam_unix.so")
    if not pwquality_module_present:
        problems.append("pam_pwquality is not installed (package libpam-pwquality)")
    if not pwq_lines:
        problems.append("/etc/pam.d/common-password does not call pam_pwquality.so")
    elif unix_password is not None and pwq_lines[0]["index"] > unix_password:
        problems.append("pam_pwquality.so comes after pam_unix.so in common-password: it checks nothing")
    elif pwq_lines[0]["control"] not in ("requisite", "required"):
        problems.append(f"pam_pwquality.so is `{pwq_lines[0]['control']}` in common-password, not requisite")
    pwq_args = pwq_lines[0]["args"] if pwq_lines else []
    pwq_effective = effective_settings(pwquality_dropins, pwquality_main, pwq_args, PWQUALITY_DEFAULTS)
    problems += compare_policy(pwq_effective, policy, PWQUALITY_KEYS, "pwquality")
    if _as_number(pwq_effective["dictcheck"]["value"]) and pwq_lines and not dictionary_present:
        problems.append(
            "pwquality dictcheck is on but the cracklib dictionary is missing "
            "(install cracklib-runtime): every new password would be refused"
        )

    auth_lines = pam_lines(common_auth or "", "pam_faillock.so")
    unix_auth = pam_index(common_auth or "", "pam_unix.so")
    preauth = [line for line in auth_lines if "preauth" in line["args"]]
    authfail = [line for line in auth_lines if "authfail" in line["args"]]
    account = pam_lines(common_account or "", "pam_faillock.so")
    if not preauth or (unix_auth is not None and preauth[0]["index"] > unix_auth):
        problems.append("common-auth has no `pam_faillock.so preauth` before pam_unix.so")
    if not authfail or (unix_auth is not None and authfail[0]["index"] < unix_auth):
        problems.append("common-auth has no `pam_faillock.so authfail` after pam_unix.so")
    if not account:
        problems.append("common-account does not call pam_faillock.so")
    fl_args = [a for line in auth_lines for a in line["args"] if a not in ("preauth", "authfail")]
    fl_effective = effective_settings([], faillock_conf, fl_args, FAILLOCK_DEFAULTS)
    if auth_lines:
        problems += compare_policy(fl_effective, faillock, FAILLOCK_KEYS, "faillock")

    empty = sorted(e["login"] for e in passwd if shadow.get(e["login"], {}).get("password") == "empty")
    for login in empty:
        problems.append(f"{login} has an empty password")
    summary = {k: v["value"] for k, v in pwq_effective.items() if k in policy}
    stack = {
        "pwquality": bool(pwq_lines),
        "faillock_preauth": bool(preauth),
        "faillock_authfail": bool(authfail),
        "faillock_account": bool(account),
    }
    return {
        "stack": stack,
        "pwquality_module_present": pwquality_module_present,
        "dictionary_present": dictionary_present,
        "problems": problems,
        "good": [
            "pam_pwquality "
            + ", ".join(f"{k}={v}" for k, v in sorted(summary.items()))
            + f"; pam_faillock deny={fl_effective['deny']['value']}"
            + f" unlock_time={fl_effective['unlock_time']['value']}"
            + "; no empty passwords"
        ],
        "pwquality": pwq_effective,
        "faillock": fl_effective,
        "empty_passwords": empty,
    }


# --------------------------------------------------------------------------- idle timeout


TMOUT_RE = re.compile(
    r"^\s*(?:(?:export|readonly|declare\s+-[a-zA-Z]+|typeset\s+-[a-zA-Z]+|local)\s+)*TMOUT=([^\s;]*)"
)


def tmout_assignments(files: list[tuple[str, str]]) -> list[dict]:
    """Every `TMOUT=` assignment in the given shell start-up files: {file, line, value (int|None)}."""
    found = []
    for path, text in files:
        for number, line in enumerate(text.splitlines(), start=1):
            match = TMOUT_RE.match(line.split("#", 1)[0]) if not line.lstrip().startswith("#") else None
            if match:
                value = match.group(1).strip("'\"")
                found.append({"file": path, "line": number, "value": int(value) if value.isdigit() else None})
    return found


def parse_sshd_config_dump(text: str) -> dict:
    """`sshd -T` output as {lower-case keyword: value}."""
    values = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            values.setdefault(parts[0].lower(), parts[1])
    return values


def evaluate_idle_timeout(
    assignments: list[dict], sshd: dict | None, sshd_error: str | None, timeout: int
) -> dict:
    """Findings for P1.4.8: shells time out after at most `timeout` seconds, sshd drops dead sessions."""
    problems = []
    good = []
    valid = [a for a in assignments if a["value"] is not None and 0 < a["value"] <= timeout]
    bad = [a for a in assignments if a["value"] is None or a["value"] == 0 or a["value"] > timeout]
    if not valid:
        problems.append(f"no login shell start-up file sets TMOUT (at most {timeout} s)")
    for a in bad:
        problems.append(f"{a['file']}:{a['line']} sets TMOUT={a['value'] if a['value'] is not None else '?'}")
    if valid and not bad:
        good.append(
            f"TMOUT={min(a['value'] for a in valid)} s ({', '.join(sorted({a['file'] for a in valid}))})"
        )
    if sshd_error is not None:
        problems.append(f"sshd configuration could not be read: {sshd_error}")
    elif sshd is not None:
        interval = _as_number(sshd.get("clientaliveinterval", "0")) or 0
        count = _as_number(sshd.get("clientalivecountmax", "3")) or 0
        if interval <= 0 or count <= 0:
            problems.append(
                f"sshd ClientAliveInterval {interval} / ClientAliveCountMax {count}: "
                "dead sessions are never dropped"
            )
        elif interval * count > timeout:
            problems.append(
                f"sshd ClientAliveInterval {interval} x ClientAliveCountMax {count} = {interval * count} s, "
                f"more than {timeout} s"
            )
        else:
            good.append(f"sshd ClientAliveInterval {interval} x ClientAliveCountMax {count}")
    else:
        good.append("no sshd on this host")
    return {"problems": problems, "good": good, "tmout": assignments}
