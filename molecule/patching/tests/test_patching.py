"""P2.5.1 / P2.5.3: verify the hosts after enforce, the audit's untouched state and both results files."""

import pytest
from conftest import ENFORCED, FROZEN, HOSTS, SNAPSHOT, ephemeral, results_of


def his_client_version(host) -> str:
    return host.check_output("dpkg-query -W -f '${Version}' his-client")


# ------------------------------------------------------------------ hosts


def test_enforce_upgraded_inside_the_window(host):
    assert his_client_version(host[ENFORCED]) == "1.0.1"


def test_freeze_applied_nothing(host):
    assert his_client_version(host[FROZEN]) == "1.0.0"
    assert host[FROZEN].file("/var/run/reboot-required").exists


def test_frozen_host_state_unchanged_since_prepare(host):
    """check, converge and idempotence ran enforce outside the window three times on this host."""
    before = (ephemeral() / f"state-{FROZEN}-before-audit.txt").read_text()
    assert host[FROZEN].check_output(SNAPSHOT.read_text()) + "\n" == before


@pytest.mark.parametrize("name", HOSTS)
def test_no_private_lists_left_behind(host, name):
    assert host[name].run("ls -d /tmp/hisguard-patching-* 2>/dev/null").stdout == ""


@pytest.mark.parametrize("name", HOSTS)
def test_prepare_audit_changed_nothing(name):
    before = (ephemeral() / f"state-{name}-before-audit.txt").read_text()
    after = (ephemeral() / f"state-{name}-after-audit.txt").read_text()
    assert before == after
    # /etc, the dpkg database and the apt state are all in the snapshot
    for path in ("/etc/apt/sources.list", "/var/lib/dpkg/status", "/var/lib/apt/lists", "/var/log/apt"):
        assert f" {path} -> " in before


# ------------------------------------------------------------------ results before enforce (audit)


def test_audit_pending_update_fails_both_controls_on_the_server(audit_results):
    results = results_of(audit_results, ENFORCED)
    assert set(results) == {"P2.5.1", "P2.5.3"}
    for result in results.values():
        assert result["status"] == "fail"
        assert result["role"].rsplit(".", 1)[-1] == "patching"
        assert result["evidence"]["mode"] == "audit"
        assert "his-client 1.0.0 -> 1.0.1" in result["observed"][0]
        pending = result["evidence"]["pending"]
        assert [(p["name"], p["installed"], p["candidate"]) for p in pending] == [
            ("his-client", "1.0.0", "1.0.1")
        ]
        # dated by the mirror's Last-Modified of the .deb
        assert pending[0]["available_since_source"] == "last-modified"
        assert pending[0]["uri"] == "http://mirror.lab.internal/debian/pool/main/his-client_1.0.1_all.deb"
        assert result["evidence"]["oldest_pending_days"] is not None
        assert result["evidence"]["lists"]["mode"] == "private"
        assert result["evidence"]["lists"]["sources"] == ["mirror.lab.internal/debian"]
        assert result["remediation"]
    stats = audit_results["run"]["stats"]
    assert all(stats[name]["changed"] == 0 and stats[name]["failures"] == 0 for name in HOSTS)


def test_audit_without_lists_is_an_error_not_a_pass(audit_results):
    results = results_of(audit_results, FROZEN)
    assert set(results) == {"P2.5.3"}  # a workstation: no P2.5.1
    result = results["P2.5.3"]
    assert result["status"] == "error"
    assert "no package lists in /var/lib/apt/lists" in result["observed"][0]
    assert result["evidence"]["lists"]["mode"] == "system"
    assert result["evidence"]["reboot"]["required"] is True


# ------------------------------------------------------------------ results after enforce


def test_enforced_server_passes_both_controls(converge_results):
    results = results_of(converge_results, ENFORCED)
    assert set(results) == {"P2.5.1", "P2.5.3"}
    for result in results.values():
        assert result["status"] == "pass", result["observed"]
        assert result["evidence"]["mode"] == "enforce"
        assert result["evidence"]["pending"] == []
        assert result["evidence"]["maintenance_window"]["open"] is True
        assert result["evidence"]["reboot"]["required"] is False


def test_frozen_workstation_reports_and_fails(converge_results):
    results = results_of(converge_results, FROZEN)
    assert set(results) == {"P2.5.3"}
    result = results["P2.5.3"]
    assert result["status"] == "fail"
    assert result["evidence"]["mode"] == "enforce"
    assert result["evidence"]["maintenance_window"]["open"] is False
    assert result["evidence"]["maintenance_window"]["next_open"] is None
    assert result["evidence"]["actions"] == []
    assert [p["name"] for p in result["evidence"]["pending"]] == ["his-client"]
    assert result["evidence"]["reboot"]["decision"]["action"] == "deferred"
    assert result["evidence"]["reboot"]["packages"] == ["libc6", "linux-image-6.1.0-28-amd64"]
    observed = " ".join(result["observed"])
    assert "his-client 1.0.0 -> 1.0.1" in observed
    assert "not rebooted: outside the maintenance window" in observed


def test_last_run_changed_nothing(converge_results):
    """results-converge.json is written by the idempotence run last."""
    for name in HOSTS:
        assert converge_results["run"]["stats"][name]["changed"] == 0
