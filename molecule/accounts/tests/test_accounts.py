"""P1.2.7 / P1.3.3 / P1.3.10 / P1.4.8 / P2.6.3: the enforced host, the audit-only host and the results."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import AUDITED, CONTROLS, ENFORCED, ETC_SNAPSHOT, SEEDED_HASHES, ephemeral, only_result

LOCKED = ["guest", "ward3", "contractor1", "kiosk", "wangwu"]
SSH_AS_ROOT = (
    "ssh -i /root/.ssh/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=no "
    "-o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 root@127.0.0.1 id -un"
)
# libpwquality itself reads its configuration and judges a password (an independent reader of P2.6.3).
PWQUALITY_CHECK = r"""
import ctypes, sys
lib = ctypes.CDLL("libpwquality.so.1")
lib.pwquality_default_settings.restype = ctypes.c_void_p
pwq = ctypes.c_void_p(lib.pwquality_default_settings())
assert lib.pwquality_read_config(pwq, None, None) == 0
value = ctypes.c_int()
settings = {}
for name, number in (("minlen", 3), ("minclass", 8), ("maxrepeat", 9)):
    lib.pwquality_get_int_value(pwq, number, ctypes.byref(value))
    settings[name] = value.value
scores = {pw: lib.pwquality_check(pwq, pw.encode(), None, b"lisi", None) for pw in sys.argv[1:]}
print(settings, scores)
"""


# ------------------------------------------------------------------ the operator is never locked out


def test_operator_still_logs_in_over_ssh_with_its_key(enforced):
    """sshd was reloaded with the new drop-in; root's key still opens a session (loopback)."""
    assert enforced.service("ssh").is_running
    assert enforced.run("/usr/sbin/sshd -t").rc == 0
    login = enforced.run(SSH_AS_ROOT)
    assert login.rc == 0, login.stderr
    assert login.stdout.strip() == "root"


def test_operator_key_untouched(enforced):
    keys = enforced.file("/root/.ssh/authorized_keys")
    assert keys.mode == 0o600
    assert keys.content_string == enforced.file("/root/.ssh/id_ed25519.pub").content_string
    assert "never" in enforced.check_output("LC_ALL=C chage -l root | grep 'Account expires'")


# ------------------------------------------------------------------ P1.3.10 sudo


@pytest.mark.parametrize("login", ["zhangsan", "zhaoliu"])
def test_roster_admins_have_sudo(enforced, login):
    assert "(ALL : ALL) ALL" in enforced.check_output("sudo -l -U %s", login)


@pytest.mark.parametrize("login", ["lisi", "contractor1", "wangwu"])
def test_others_have_no_sudo(enforced, login):
    assert "is not allowed to run sudo" in enforced.check_output("sudo -l -U %s", login)


def test_sudoers_valid_and_rules_disabled_not_deleted(enforced):
    assert enforced.run("visudo -c").rc == 0
    assert (
        "# disabled by hisguard (P1.3.10, sudo only for %hisadmin): %sudo"
        in enforced.file("/etc/sudoers").content_string
    )
    vendor = enforced.file("/etc/sudoers.d/90-vendor").content_string
    assert (
        "# disabled by hisguard (P1.3.10, sudo only for %hisadmin): contractor1 ALL=(ALL) NOPASSWD: ALL"
        in vendor
    )
    admin = enforced.file("/etc/sudoers.d/10-hisguard-admin-group")
    assert admin.mode == 0o440 and "%hisadmin\tALL=(ALL:ALL) ALL" in admin.content_string
    assert sorted(enforced.group("hisadmin").members) == ["zhangsan", "zhaoliu"]


# ------------------------------------------------------------------ P1.2.7 / P1.3.3 accounts


@pytest.mark.parametrize("login", LOCKED)
def test_outsider_and_shared_accounts_locked_not_deleted(enforced, login):
    assert enforced.run("passwd -S %s", login).stdout.split()[1] == "L"
    assert "Jan 02, 1970" in enforced.check_output("LC_ALL=C chage -l %s", login)
    assert enforced.file(f"/home/{login}").is_directory


def test_roster_accounts_carry_their_employee_id(enforced):
    assert enforced.user("zhaoliu").gecos == "赵六 (H10031)"
    assert enforced.user("zhangsan").gecos == "张三 (H10023)"
    assert enforced.run("passwd -S zhangsan").stdout.split()[1] == "P"
    # the approved service account is left alone
    assert "never" in enforced.check_output("LC_ALL=C chage -l hisapp | grep 'Account expires'")


# ------------------------------------------------------------------ P2.6.3 password quality and lockout


def test_pam_stacks(enforced):
    auth = enforced.file("/etc/pam.d/common-auth").content_string
    assert (
        auth.index("pam_faillock.so preauth")
        < auth.index("pam_unix.so")
        < auth.index("pam_faillock.so authfail")
    )
    assert "pam_faillock.so" in enforced.file("/etc/pam.d/common-account").content_string
    password = enforced.file("/etc/pam.d/common-password").content_string
    assert password.index("pam_pwquality.so") < password.index("pam_unix.so")


def test_libpwquality_applies_the_policy(enforced):
    out = enforced.check_output("python3 -c %s %s %s", PWQUALITY_CHECK, "abc12345", "Ward3-Night-Shift!")
    settings, scores = out.split("} {")
    assert "'minlen': 10" in settings and "'minclass': 3" in settings and "'maxrepeat': 3" in settings
    weak, strong = (int(part.split(": ")[1].rstrip("}")) for part in scores.split(", "))
    assert weak < 0 and strong >= 0


def test_five_wrong_passwords_lock_the_account(enforced):
    """Real PAM logins (su by an unprivileged user): after 5 failures the right password is refused."""
    enforced.run("faillock --user zhangsan --reset")
    try:
        for _ in range(5):
            assert enforced.run("echo wrong-password | runuser -u lisi -- su -c true zhangsan").rc != 0
        locked = enforced.run("echo Zs-2025-example | runuser -u lisi -- su -c 'id -un' zhangsan")
        assert locked.rc != 0 and "locked" in locked.stdout + locked.stderr
        enforced.run("faillock --user zhangsan --reset")
        unlocked = enforced.run("echo Zs-2025-example | runuser -u lisi -- su -c 'id -un' zhangsan")
        assert unlocked.rc == 0 and unlocked.stdout.strip().endswith("zhangsan")
    finally:
        enforced.run("faillock --user zhangsan --reset")


# ------------------------------------------------------------------ P1.4.8 idle timeout


def test_login_shell_times_out_and_users_cannot_change_it(enforced):
    assert enforced.check_output("runuser -u lisi -- bash -lc 'echo $TMOUT'") == "900"
    assert "readonly" in enforced.run("runuser -u lisi -- bash -lc 'TMOUT=0'").stderr


def test_sshd_client_alive(enforced):
    effective = enforced.check_output("/usr/sbin/sshd -T")
    assert "clientaliveinterval 300" in effective and "clientalivecountmax 3" in effective


# ------------------------------------------------------------------ audit-only host


def test_audit_host_still_non_compliant(audited):
    assert "NOPASSWD: ALL" in audited.check_output("sudo -l -U contractor1")
    assert audited.run("passwd -S guest").stdout.split()[1] == "P"
    assert not audited.file("/etc/profile.d/hisguard-idle-timeout.sh").exists
    assert not audited.package("libpam-pwquality").is_installed


@pytest.mark.parametrize("host_name", [ENFORCED, AUDITED])
def test_prepare_audit_changed_nothing(host_name):
    before = ephemeral() / f"etc-{host_name}-before-audit.txt"
    after = ephemeral() / f"etc-{host_name}-after-audit.txt"
    assert before.read_text() == after.read_text()
    assert len(before.read_text().splitlines()) > 100


def test_audit_host_etc_unchanged_since_prepare(audited):
    """check, converge and idempotence ran the role in audit mode three more times on this host."""
    before = (ephemeral() / f"etc-{AUDITED}-before-audit.txt").read_text()
    assert audited.check_output(ETC_SNAPSHOT) + "\n" == before


# ------------------------------------------------------------------ results (compliance callback)


@pytest.mark.parametrize("host_name", [ENFORCED, AUDITED])
@pytest.mark.parametrize("control", CONTROLS)
def test_results_before_enforce_fail(audit_results, host_name, control):
    result = only_result(audit_results, host_name, control)
    assert result["status"] == "fail", result["observed"]
    assert result["role"].endswith("accounts")
    assert result["evidence"]["mode"] == "audit"
    assert result["remediation"]
    stats = audit_results["run"]["stats"][host_name]
    assert stats["changed"] == 0 and stats["failures"] == 0


def test_results_before_enforce_name_the_findings(audit_results):
    observed = {c: " ".join(only_result(audit_results, AUDITED, c)["observed"]) for c in CONTROLS}
    assert "contractor1: personal account (uid" in observed["P1.2.7"]
    assert "guest (uid" in observed["P1.3.3"] and "公用" in observed["P1.3.3"]
    assert "/etc/sudoers.d/90-vendor:2" in observed["P1.3.10"]
    assert "no login shell start-up file sets TMOUT" in observed["P1.4.8"]
    assert "kiosk has an empty password" in observed["P2.6.3"]


@pytest.mark.parametrize("control", CONTROLS)
def test_results_after_enforce_pass(converge_results, control):
    result = only_result(converge_results, ENFORCED, control)
    assert result["status"] == "pass", result["observed"]
    assert result["evidence"]["mode"] == "enforce"


def test_results_evidence_maps_accounts_to_employee_ids(converge_results):
    evidence = only_result(converge_results, ENFORCED, "P1.2.7")["evidence"]
    assert {m["login"]: m["employee_id"] for m in evidence["roster_matched"]} == {
        "zhangsan": "H10023",
        "lisi": "H10024",
        "zhaoliu": "H10031",
    }
    assert evidence["service_accounts"] == ["hisapp"]


@pytest.mark.parametrize("control", CONTROLS)
def test_results_audit_host_still_fails(converge_results, control):
    result = only_result(converge_results, AUDITED, control)
    assert result["status"] == "fail"
    assert result["evidence"]["mode"] == "audit"


def test_last_run_changed_nothing(converge_results):
    """results-converge.json is written by the idempotence run last."""
    for host_name in (ENFORCED, AUDITED):
        assert converge_results["run"]["stats"][host_name]["changed"] == 0


@pytest.mark.parametrize("name", ["results-audit.json", "results-converge.json", "audit-run.log"])
def test_no_password_hash_leaks(name):
    text = (ephemeral() / name).read_text(encoding="utf-8")
    for secret in SEEDED_HASHES:
        assert secret not in text
        assert secret.split("$")[3][:20] not in text
    if name.endswith(".json"):
        document = json.loads(text)
        for result in document["results"]:
            for account in result["evidence"].get("accounts", []):
                assert account["password"] in ("set", "locked", "empty", "unknown")


# ------------------------------------------------------------------ bad input


def test_shared_login_on_the_roster_is_refused(tmp_path):
    """A clear message naming the entry, a non-zero exit, no traceback, nothing changed."""
    extra = tmp_path / "bad-roster.json"
    extra.write_text(
        json.dumps(
            {"accounts_roster": [{"login": "guest2", "employee_id": "H1", "name": "临时工", "groups": []}]}
        ),
        encoding="utf-8",
    )
    run = subprocess.run(
        [
            "ansible-playbook",
            "--inventory",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "--limit",
            ENFORCED,
            "--extra-vars",
            f"@{extra}",
            str(Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "converge.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "HISGUARD_RESULTS_FILE": str(tmp_path / "results.json"),
        },
    )
    assert run.returncode != 0
    output = " ".join((run.stdout + run.stderr).split())
    assert "accounts_roster: guest2 (临时工) needs a valid Linux login" in output
    assert "not a shared or generic name" in output
    assert "Traceback" not in run.stdout + run.stderr
    assert "changed=0" in run.stdout
