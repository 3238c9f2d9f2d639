"""plugins/module_utils/accounts.py: roster comparison, shared accounts, sudoers, PAM policy, idle timeout."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("accounts", ROOT / "plugins" / "module_utils" / "accounts.py")
acc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(acc)

TODAY = 20000
FORBIDDEN = ["guest", "test", "admin", "shared", "public", "公用"]

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
postgres:x:103:110:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
zhangsan:x:1001:1001:张三 (H10023):/home/zhangsan:/bin/bash
lisi:x:1002:1002:李四:/home/lisi:/bin/bash
wangwu:x:1003:1003:王五:/home/wangwu:/bin/bash
guest01:x:1004:1004:Guest:/home/guest01:/bin/bash
nurse3:x:1005:1005:护士站公用账号:/home/nurse3:/bin/bash
oldstaff:x:1006:1006:left 2023:/home/oldstaff:/bin/bash
hisapp:x:1100:1100:HIS application:/srv/his:/bin/bash
"""
SHADOW = """\
root:$y$j9T$abc$def:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
postgres:!:19000::::::
nobody:*:19000:0:99999:7:::
zhangsan:$y$j9T$secret-hash:19000:0:99999:7:::
lisi:!$y$j9T$locked:19000:0:99999:7:::
wangwu::19000:0:99999:7:::
guest01:$y$j9T$x:19000:0:99999:7:::
nurse3:$y$j9T$y:19000:0:99999:7:::
oldstaff:!$y$z:19000:0:99999:7::1:
hisapp:!:19000:0:99999:7:::
"""
GROUP = """\
root:x:0:
sudo:x:27:lisi
hisadmin:x:990:zhangsan,wangwu
zhangsan:x:1001:
"""
ROSTER = [
    {"login": "zhangsan", "employee_id": "H10023", "name": "张三", "groups": ["hisadmin"]},
    {"login": "lisi", "employee_id": "H10024", "name": "李四", "groups": []},
    {"login": "zhaoliu", "employee_id": "H10025", "name": "赵六", "groups": ["hisadmin"]},
]


def evaluate(passwd=PASSWD, shadow=SHADOW, roster=ROSTER, protected=("root",), service=()):
    return acc.evaluate_accounts(
        acc.parse_passwd(passwd),
        acc.shadow_status(shadow, TODAY),
        roster=acc.validate_roster(list(roster), FORBIDDEN),
        system_uid_max=999,
        forbidden_names=FORBIDDEN,
        protected=list(protected),
        service_accounts=list(service),
    )


# --------------------------------------------------------------------------- databases


def test_shadow_status_never_returns_hashes():
    status = acc.shadow_status(SHADOW, TODAY)
    assert status["zhangsan"] == {"password": "set", "expire_day": None, "expired": False}
    assert status["lisi"]["password"] == "locked"
    assert status["wangwu"]["password"] == "empty"
    assert status["oldstaff"]["expired"] is True
    assert "secret-hash" not in repr(status)


def test_group_memberships_include_primary_group():
    members = acc.group_memberships(acc.parse_passwd(PASSWD), acc.parse_group(GROUP))
    assert members["zhangsan"] == ["zhangsan"]
    assert members["hisadmin"] == ["wangwu", "zhangsan"]


# --------------------------------------------------------------------------- roster


@pytest.mark.parametrize(
    ("roster", "message"),
    [
        ([{"login": "Zhang", "employee_id": "1", "name": "x"}], "not a valid Linux login"),
        ([{"login": "zhang", "employee_id": "", "name": "x"}], "no employee_id"),
        ([{"login": "zhang", "employee_id": "1", "name": "x"}] * 2, "listed twice"),
        ([{"login": "guest2", "employee_id": "1", "name": "x"}], "shared or generic"),
        ([{"login": "zhang", "employee_id": "1", "name": "x", "groups": "hisadmin"}], "list of group names"),
        ("zhang", "must be a list"),
    ],
)
def test_validate_roster_names_what_to_fix(roster, message):
    with pytest.raises(acc.AccountsError, match=message):
        acc.validate_roster(roster, FORBIDDEN)


@pytest.mark.parametrize(
    ("login", "gecos", "hit"),
    [
        ("guest", "", True),
        ("Guest01", "", True),
        ("test_2", "", True),
        ("tester", "", False),
        ("hisadmin", "", False),
        ("nurse3", "护士站公用账号", True),
        ("nurse4", "Public terminal, ward 3", True),
        ("zhangsan", "张三 (H10023)", False),
    ],
)
def test_forbidden_match(login, gecos, hit):
    assert bool(acc.forbidden_match(login, gecos, FORBIDDEN)) is hit


def test_outsiders_and_shared_accounts():
    result = evaluate()
    outsiders = " ".join(result["P1.2.7"]["problems"])
    # wangwu, guest01, nurse3 and hisapp are usable and not on the roster; oldstaff has expired
    for login in ("wangwu", "guest01", "nurse3", "hisapp"):
        assert f"{login}:" in outsiders
    assert "oldstaff" not in outsiders
    assert result["P1.2.7"]["disabled_unknown"] == ["oldstaff"]
    assert result["P1.2.7"]["roster_not_on_host"] == ["zhaoliu"]
    matched = {m["login"]: m for m in result["P1.2.7"]["matched"]}
    assert matched["zhangsan"]["gecos_names_employee_id"] is True
    assert matched["lisi"]["gecos_names_employee_id"] is False
    shared = " ".join(result["P1.3.3"]["problems"])
    assert "guest01" in shared and "nurse3" in shared
    assert "zhangsan" not in shared
    assert sorted(result["lock"]) == ["guest01", "hisapp", "nurse3", "wangwu"]


def test_service_accounts_and_protected_accounts_are_not_locked():
    result = evaluate(
        protected=("root", "wangwu"), service=[{"login": "hisapp", "purpose": "HIS", "ticket": "T1"}]
    )
    assert "hisapp" not in " ".join(result["P1.2.7"]["problems"])
    assert result["P1.2.7"]["service_accounts"] == ["hisapp"]
    assert "operator" in next(p for p in result["P1.2.7"]["problems"] if p.startswith("wangwu"))
    assert "wangwu" not in result["lock"]


def test_system_account_gecos_is_not_a_person():
    assert evaluate()["P1.3.3"]["problems"] and not any(
        "postgres" in p for p in evaluate()["P1.3.3"]["problems"]
    )
    passwd = PASSWD + "guest:x:120:120:Guest:/nonexistent:/bin/sh\n"
    assert any(p.startswith("guest (uid 120)") for p in evaluate(passwd=passwd)["P1.3.3"]["problems"])


def test_second_root_and_shared_uid_and_system_password():
    passwd = PASSWD + "toor:x:0:0::/root:/bin/bash\nnurse5:x:1001:1001::/home/n5:/bin/bash\n"
    shadow = SHADOW.replace("postgres:!:", "postgres:$y$abc:")
    problems = " ".join(evaluate(passwd=passwd, shadow=shadow)["P1.3.3"]["problems"])
    assert "uid 0 is also used by toor" in problems
    assert "uid 1001 is shared by zhangsan, nurse5" in problems
    assert "postgres (system uid 103): system account with a usable password" in problems


def test_compliant_host_passes():
    passwd = "root:x:0:0:root:/root:/bin/bash\nzhangsan:x:1001:1001:张三 (H10023):/home/zhangsan:/bin/bash\n"
    shadow = "root:$y$x:1::::::\nzhangsan:$y$x:1::::::\n"
    result = evaluate(passwd=passwd, shadow=shadow)
    assert result["P1.2.7"]["problems"] == [] and result["P1.3.3"]["problems"] == []
    assert result["lock"] == []


# --------------------------------------------------------------------------- sudoers

SUDOERS = {
    "/etc/sudoers": (
        "Defaults\tenv_reset\nDefaults:%sudo !lecture\nroot\tALL=(ALL:ALL) ALL\n"
        "%sudo\tALL=(ALL:ALL) ALL\nUser_Alias NURSES = nurse1, nurse2\n"
        "NURSES ALL = /usr/bin/systemctl restart his-client\n"
        "@includedir /etc/sudoers.d\n"
    ),
    "/etc/sudoers.d/10-hisguard-admin-group": "%hisadmin ALL=(ALL:ALL) ALL\n",
    "/etc/sudoers.d/ops": "ansible ALL=(ALL) NOPASSWD: ALL\nbob, alice ALL=(ALL) \\\n  /usr/bin/apt\n",
    "/etc/sudoers.d/README": "# comments only\n#includedir is not a directive here\n",
    "/etc/sudoers.d/old.bak": "eve ALL=(ALL) ALL\n",
}


def parse(files=SUDOERS):
    def listdir(path):
        names = [p.rsplit("/", 1)[1] for p in files if p.startswith(path.rstrip("/") + "/")]
        return names or None

    return acc.parse_sudoers(files.get, listdir)


def test_parse_sudoers_follows_includes_and_aliases():
    parsed = parse()
    rules = {(g["file"].rsplit("/", 1)[1], g["line"]): g["principals"] for g in parsed["grants"]}
    assert rules[("sudoers", 3)] == ["root"]
    assert rules[("sudoers", 4)] == ["%sudo"]
    assert rules[("sudoers", 6)] == ["nurse1", "nurse2"]
    assert rules[("ops", 2)] == ["alice", "bob"]
    # dotted names are skipped by sudo
    assert "/etc/sudoers.d/old.bak" not in parsed["files"]
    assert parsed["errors"] == []


def sudo_findings(operator="root", memberships=None, roster=ROSTER, protected=("root",)):
    memberships = memberships or {
        "sudo": ["lisi"],
        "hisadmin": ["wangwu", "zhangsan"],
        "ansible": ["ansible"],
    }
    return acc.evaluate_sudo(
        parse()["grants"],
        memberships,
        roster=roster,
        admin_group="hisadmin",
        allowed_principals=[],
        operator=operator,
        protected=[*protected, operator],
        existing_logins={"zhangsan", "lisi", "wangwu", "ansible", "root"},
    )


def test_sudo_outside_admin_group_and_group_sync():
    result = sudo_findings()
    text = " ".join(result["problems"])
    assert "%sudo" in text and "nurse1, nurse2" in text and "ansible" in text
    assert "wangwu is in the admin group hisadmin but the roster does not grant it" in text
    disabled = {(d["file"].rsplit("/", 1)[1], d["line"]) for d in result["disable"]}
    # the continued (two-line) rule is reported but not disabled automatically
    assert disabled == {("sudoers", 4), ("sudoers", 6), ("ops", 1)}
    assert result["remove_members"] == ["wangwu"]
    assert result["add_members"] == []


def test_sudo_rule_covering_the_operator_is_kept():
    result = sudo_findings(operator="ansible")
    assert ("/etc/sudoers.d/ops", 1) not in {(d["file"], d["line"]) for d in result["disable"]}
    assert result["kept_for_operator"] == ["/etc/sudoers.d/ops:1"]
    # the operator in the admin group without a roster entry is reported, never removed
    result = sudo_findings(operator="wangwu")
    assert "wangwu" not in result["remove_members"]


def test_roster_admin_missing_from_group_is_added():
    result = sudo_findings(memberships={"hisadmin": []})
    assert result["add_members"] == ["zhangsan"]


# --------------------------------------------------------------------------- PAM, pwquality, faillock

COMMON_PASSWORD = (
    "password\trequisite\t\t\tpam_pwquality.so retry=3\n"
    "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt\n"
)
COMMON_AUTH = (
    "auth\trequisite\t\t\tpam_faillock.so preauth\n"
    "auth\t[success=2 default=ignore]\tpam_unix.so nullok try_first_pass\n"
    "auth\t[default=die]\t\t\tpam_faillock.so authfail\n"
    "auth\trequisite\t\t\tpam_deny.so\n"
)
COMMON_ACCOUNT = "account\trequired\t\t\tpam_faillock.so\naccount\t[success=1 default=ignore]\tpam_unix.so\n"
POLICY = {"minlen": 10, "minclass": 3, "maxrepeat": 3, "dictcheck": 1, "enforce_for_root": True}
FAILLOCK = {"deny": 5, "unlock_time": 900}


def password(**overrides):
    args = {
        "common_password": COMMON_PASSWORD,
        "common_auth": COMMON_AUTH,
        "common_account": COMMON_ACCOUNT,
        "pwquality_main": "# minlen = 8\nminlen = 10\nminclass = 3\nmaxrepeat = 3\nenforce_for_root\n",
        "pwquality_dropins": [],
        "faillock_conf": "deny = 5\nunlock_time = 900\n",
        "policy": POLICY,
        "faillock": FAILLOCK,
        "dictionary_present": True,
        "pwquality_module_present": True,
        "shadow": {"root": {"password": "set"}},
        "passwd": [{"login": "root"}],
    }
    args.update(overrides)
    return acc.evaluate_password_policy(**args)


def test_password_policy_passes_when_configured():
    result = password()
    assert result["problems"] == []
    assert all(result["stack"].values())


def test_debian_defaults_fail():
    result = password(
        common_password="password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n",
        common_auth="auth\t[success=1 default=ignore]\tpam_unix.so nullok\n",
        common_account="account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n",
        pwquality_main=None,
        faillock_conf="# deny = 3\n",
        pwquality_module_present=False,
        shadow={"root": {"password": "set"}, "kiosk": {"password": "empty"}},
        passwd=[{"login": "root"}, {"login": "kiosk"}],
    )
    text = " ".join(result["problems"])
    assert "libpam-pwquality" in text
    assert "does not call pam_pwquality.so" in text
    assert "pwquality minlen is 8 (default), weaker than the policy (10)" in text
    assert "pam_faillock.so preauth" in text and "common-account" in text
    assert "kiosk has an empty password" in text


def test_pam_arguments_and_main_file_override_dropins():
    # libpwquality reads pwquality.conf.d first and the main file after it; PAM arguments win over both
    result = password(
        pwquality_dropins=[("50-site.conf", "minlen = 14\n")],
        common_password=COMMON_PASSWORD.replace("retry=3", "retry=3 minlen=6"),
    )
    assert result["pwquality"]["minlen"] == {"value": "6", "source": "pam"}
    assert "pwquality minlen is '6' (pam), weaker than the policy (10)" in result["problems"]


@pytest.mark.parametrize(
    ("conf", "weaker"),
    [
        ("deny = 10\nunlock_time = 900\n", "deny"),
        ("deny = 0\nunlock_time = 900\n", "deny"),
        ("deny = 5\nunlock_time = 60\n", "unlock_time"),
        ("deny = 3\nunlock_time = 0\n", None),
    ],
)
def test_faillock_comparison(conf, weaker):
    problems = [p for p in password(faillock_conf=conf)["problems"] if p.startswith("faillock")]
    assert [p.split()[1] for p in problems] == ([weaker] if weaker else [])


def test_dictionary_missing_is_reported():
    assert any("cracklib" in p for p in password(dictionary_present=False)["problems"])


def test_pwquality_after_pam_unix_checks_nothing():
    swapped = "\n".join(reversed(COMMON_PASSWORD.strip().splitlines())) + "\n"
    assert any("after pam_unix" in p for p in password(common_password=swapped)["problems"])


# --------------------------------------------------------------------------- idle timeout

HISGUARD_TMOUT = """\
if ! readonly -p 2>/dev/null | grep -q ' TMOUT='; then
    TMOUT=900
    readonly TMOUT
    export TMOUT
fi
"""
SSHD_OK = {"clientaliveinterval": "300", "clientalivecountmax": "3"}


def idle(files, sshd=SSHD_OK, error=None):
    return acc.evaluate_idle_timeout(acc.tmout_assignments(files), sshd, error, 900)


def test_idle_timeout_passes():
    result = idle([("/etc/profile.d/hisguard-idle-timeout.sh", HISGUARD_TMOUT)])
    assert result["problems"] == []
    assert result["tmout"] == [{"file": "/etc/profile.d/hisguard-idle-timeout.sh", "line": 2, "value": 900}]


@pytest.mark.parametrize(
    ("files", "sshd", "error", "message"),
    [
        ([], SSHD_OK, None, "no login shell start-up file sets TMOUT"),
        ([("/etc/profile", "export TMOUT=3600\n")], SSHD_OK, None, "/etc/profile:1 sets TMOUT=3600"),
        ([("/etc/bash.bashrc", "readonly TMOUT=0\n")], SSHD_OK, None, "sets TMOUT=0"),
        ([("/etc/profile", "TMOUT=600\n")], {"clientaliveinterval": "0"}, None, "never dropped"),
        (
            [("/etc/profile", "TMOUT=600\n")],
            {"clientaliveinterval": "600", "clientalivecountmax": "3"},
            None,
            "1800 s",
        ),
        (
            [("/etc/profile", "TMOUT=600\n")],
            None,
            "Missing privilege separation directory",
            "could not be read",
        ),
    ],
)
def test_idle_timeout_failures(files, sshd, error, message):
    assert message in " ".join(idle(files, sshd, error)["problems"])


def test_commented_tmout_is_ignored_and_no_sshd_is_fine():
    result = idle([("/etc/profile", "# TMOUT=99999\nTMOUT=300\n")], sshd=None)
    assert result["problems"] == []
    assert "no sshd on this host" in result["good"]


def test_parse_sshd_config_dump():
    assert acc.parse_sshd_config_dump("port 22\nclientaliveinterval 300\n")["clientaliveinterval"] == "300"
