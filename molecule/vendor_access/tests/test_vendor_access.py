"""P1.2.5: the audit before any grant, a grant in place, its audit, its revocation and a refused grant.

The tests after the grant run in file order: audit it, revoke it (twice), audit again, refuse a bad grant.
"""

import json
import time

from conftest import GRANTED, ROGUE, changed, ephemeral, load_results, only_result, playbook

ACCOUNT = "v-acme-c0ffee01"
KEY_FILE = f"/etc/ssh/hisguard-vendor-keys/{ACCOUNT}"
RECORD = "/etc/hisguard/vendor-access/c0ffee01.json"
TIMER = "hisguard-vendor-revoke-c0ffee01.timer"


# ------------------------------------------------------------------ the audit in prepare (before any grant)


def test_audit_passes_where_no_vendor_account_exists():
    result = only_result(load_results(ephemeral() / "results-audit.json"), GRANTED)
    assert result["status"] == "pass"
    assert result["evidence"]["vendor_accounts"] == [] and result["evidence"]["active_grants"] == []


def test_audit_fails_on_a_hand_made_vendor_account():
    for name in ("results-audit.json", "results-converge.json"):
        result = only_result(load_results(ephemeral() / name), ROGUE)
        assert result["status"] == "fail"
        assert "vendor account v-rogue-0badc0de exists without an active grant" in result["observed"]


# ------------------------------------------------------------------ the grant made by converge


def test_grant_account_expires_and_is_a_vendor(granted, grant):
    user = granted.user(ACCOUNT)
    assert user.exists and "hisguard-vendor" in user.groups
    assert user.shell == "/bin/bash"
    # The account expires a day after the grant (the key and the timer close it at the expiry itself).
    assert abs(user.expiration_date.timestamp() - (grant["expires_epoch"] + 86400)) < 2 * 86400
    assert granted.check_output("getent shadow %s", ACCOUNT).split(":")[1] == "*"  # no password login


def test_grant_key_is_restricted_and_expires(granted, grant):
    key = granted.file(KEY_FILE)
    assert key.user == "root" and key.mode == 0o644
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(grant["expires_epoch"]))
    assert key.content_string.startswith(f'restrict,pty,expiry-time="{stamp}Z" ssh-ed25519 ')
    assert grant["public_key"].split()[1] in key.content_string


def test_grant_record_is_private_and_holds_no_key(granted):
    record = granted.file(RECORD)
    assert record.user == "root" and record.mode == 0o600
    content = json.loads(record.content_string)
    assert content["user"] == ACCOUNT and content["ticket"] == "IT-P125-MOLECULE"
    assert "public_key" not in content


def test_grant_closes_itself(granted):
    timer = granted.service(TIMER)
    assert timer.is_enabled and timer.is_running
    assert granted.service("hisguard-vendor-sweep.timer").is_running


def test_sessions_are_recorded_and_sshd_accepts_the_config(granted):
    dropin = granted.file("/etc/ssh/sshd_config.d/50-hisguard-vendor.conf").content_string
    assert "Match Group hisguard-vendor" in dropin and "ForceCommand" in dropin
    assert granted.run("sshd -t").rc == 0
    assert granted.file("/etc/sudoers.d/hisguard-vendor").mode == 0o440
    assert granted.file("/var/log/hisguard/vendor-sessions").mode == 0o700


# ------------------------------------------------------------ audit, revoke, audit, refuse (in this order)


def test_audit_passes_during_the_grant(tmp_path):
    run, results = playbook("audit.yml", tmp_path, "--limit", GRANTED)
    assert run.returncode == 0, run.stdout + run.stderr
    result = only_result(load_results(results), GRANTED)
    assert result["status"] == "pass"
    assert [g["user"] for g in result["evidence"]["active_grants"]] == [ACCOUNT]


def test_revoke_closes_the_grant_and_again_changes_nothing(granted, tmp_path):
    extra = ("--limit", GRANTED, "--extra-vars", "vendor_access_revoke_id=c0ffee01")
    first, _ = playbook("revoke.yml", tmp_path, *extra)
    assert first.returncode == 0, first.stdout + first.stderr
    assert changed(first, GRANTED) == 1
    assert not granted.user(ACCOUNT).exists
    assert not granted.file(KEY_FILE).exists
    assert not granted.file(RECORD).exists
    assert granted.file("/etc/hisguard/vendor-access/revoked/c0ffee01.json").exists
    assert not granted.service(TIMER).is_running
    second, _ = playbook("revoke.yml", tmp_path, *extra)
    assert second.returncode == 0, second.stdout + second.stderr
    assert changed(second, GRANTED) == 0


def test_audit_passes_after_the_revocation(tmp_path):
    run, results = playbook("audit.yml", tmp_path, "--limit", GRANTED)
    assert run.returncode == 0, run.stdout + run.stderr
    result = only_result(load_results(results), GRANTED)
    assert result["status"] == "pass" and result["evidence"]["active_grants"] == []
    assert result["evidence"]["revoked_grants_on_host"] == 1


def test_a_grant_longer_than_allowed_is_refused(granted, grant, tmp_path):
    """A clear message, a non-zero exit, no traceback, no account made."""
    long_grant = {**grant, "id": "0badf00d", "expires_epoch": int(time.time()) + 48 * 3600}
    extra = tmp_path / "long-grant.json"
    extra.write_text(json.dumps({"vendor_access_grant": long_grant}), encoding="utf-8")
    run, _ = playbook("converge.yml", tmp_path, "--limit", GRANTED, "--extra-vars", f"@{extra}")
    output = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0
    assert "expires_epoch in the future and at most 24 h away" in output
    assert "Traceback" not in output
    assert not granted.user("v-acme-0badf00d").exists
