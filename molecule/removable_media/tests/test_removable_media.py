"""P1.3.6: verify the enforced host, the audit-only host and the results the callback wrote."""

import pytest
from conftest import AUDITED, ENFORCED, ETC_SNAPSHOT, only_result

BASELINE = ["usb-storage", "uas", "sr_mod", "cdrom", "floppy"]
MODPROBE_FILE = "/etc/modprobe.d/00-hisguard-removable-media.conf"
UDEV_RULE = "/etc/udev/rules.d/10-hisguard-removable-media.rules"


def modprobe_dry_run(host, module: str) -> list[str]:
    result = host.run("modprobe -n -v %s", module)
    return [line.strip() for line in (result.stdout + result.stderr).splitlines()]


# ------------------------------------------------------------------ enforced host


@pytest.mark.parametrize("module", BASELINE)
def test_module_install_rule_after_enforce(enforced, module):
    assert "install /bin/false" in modprobe_dry_run(enforced, module)


def test_modules_blacklisted_after_enforce(enforced):
    config = enforced.check_output("modprobe --showconfig").splitlines()
    for module in BASELINE:
        assert f"blacklist {module.replace('-', '_')}" in config


def test_modprobe_file(enforced):
    conf = enforced.file(MODPROBE_FILE)
    assert conf.user == "root" and conf.mode == 0o644
    assert "install usb-storage /bin/false" in conf.content_string
    # Other administrators' files are left alone.
    assert enforced.file("/etc/modprobe.d/local-usb.conf").exists


def test_udev_rule(enforced):
    rule = enforced.file(UDEV_RULE)
    assert rule.user == "root" and rule.mode == 0o644
    text = rule.content_string
    assert 'ATTR{bInterfaceClass}=="08", ATTR{authorized}="0"' in text
    assert 'ATTRS{idVendor}=="0781", ATTRS{idProduct}=="5567", GOTO="hisguard_removable_media_end"' in text
    assert "OA-2025-0412" in text


def test_usbguard_policy(enforced):
    service = enforced.service("usbguard")
    assert service.is_running and service.is_enabled
    listed = enforced.check_output("usbguard list-rules").splitlines()
    rules = [line.split(":", 1)[1].strip() for line in listed]
    assert rules == ["allow id 0781:5567", "allow with-interface match-all { 03:*:* 09:*:* }"]
    assert enforced.check_output("usbguard get-parameter ImplicitPolicyTarget").strip() == "block"
    assert enforced.file("/etc/usbguard/rules.conf").mode == 0o600


# ------------------------------------------------------------------ audit-only host


def test_audit_host_still_not_blocked(audited):
    for module in BASELINE:
        assert "install /bin/false" not in modprobe_dry_run(audited, module)
    assert not audited.file(MODPROBE_FILE).exists
    assert not audited.file(UDEV_RULE).exists
    assert not audited.service("usbguard").is_running


@pytest.mark.parametrize("host_name", [ENFORCED, AUDITED])
def test_prepare_audit_changed_nothing(etc_snapshots, host_name):
    snapshot = etc_snapshots[host_name]
    assert snapshot["before"] == snapshot["after"]
    assert len(snapshot["before"].splitlines()) > 100


def test_audit_host_etc_unchanged_since_prepare(audited, etc_snapshots):
    """check, converge and idempotence ran the role in audit mode three more times on this host."""
    assert audited.check_output(ETC_SNAPSHOT) == etc_snapshots[AUDITED]["before"]


# ------------------------------------------------------------------ results (compliance callback)


@pytest.mark.parametrize("host_name", [ENFORCED, AUDITED])
def test_results_before_enforce_fail(audit_results, host_name):
    result = only_result(audit_results, host_name)
    assert result["status"] == "fail"
    assert result["role"].endswith("removable_media")
    assert result["evidence"]["mode"] == "audit"
    assert "usb-storage: no `install usb-storage /bin/false` rule" in " ".join(result["observed"])
    assert result["remediation"]
    stats = audit_results["run"]["stats"][host_name]
    assert stats["changed"] == 0 and stats["failures"] == 0


def test_results_after_enforce_pass(converge_results):
    result = only_result(converge_results, ENFORCED)
    assert result["status"] == "pass", result["observed"]
    assert result["evidence"]["mode"] == "enforce"
    modules = result["evidence"]["modules"]
    assert [module["module"] for module in modules] == BASELINE
    assert all(module["install_blocked"] and module["blacklisted"] for module in modules)


def test_results_audit_host_still_fails(converge_results):
    result = only_result(converge_results, AUDITED)
    assert result["status"] == "fail"
    assert result["evidence"]["mode"] == "audit"


def test_last_run_changed_nothing(converge_results):
    """results-converge.json is written by the idempotence run last."""
    for host_name in (ENFORCED, AUDITED):
        assert converge_results["run"]["stats"][host_name]["changed"] == 0
