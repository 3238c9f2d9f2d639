"""P2.4.10 / P2.5.2: delivery to the central log host, the enforced files and services, the results."""

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from conftest import CENTRAL, CLIENT, ephemeral, only_result

AUDIT_RULES = "/etc/audit/rules.d/hisguard.rules"


# ------------------------------------------------------------------ P2.4.10 central logging


def test_logger_line_reaches_the_central_host(client, central):
    marker = f"hisguard-verify-{uuid.uuid4()}"
    client.check_output("logger -t hisguard-verify %s", marker)
    remote = f"/var/log/remote/{CLIENT}.log"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if central.run("grep -qF %s %s", marker, remote).rc == 0:
            break
        time.sleep(1)
    else:
        pytest.fail(f"{marker} did not arrive in {CENTRAL}:{remote}")
    line = central.check_output("grep -F %s %s", marker, remote)
    assert "hisguard-verify" in line


def test_client_forwards_over_tcp(client):
    forward = client.file("/etc/rsyslog.d/90-hisguard-forward.conf").content_string
    assert 'target="logging-central" port="514" protocol="tcp"' in forward
    assert client.service("rsyslog").is_running and client.service("rsyslog").is_enabled
    assert "10.77.40.10:514" in client.check_output("ss -Htn state established '( dport = :514 )'")
    assert client.run("rsyslogd -N1").rc == 0


def test_central_host_receives_and_does_not_forward(central):
    assert central.socket("tcp://0.0.0.0:514").is_listening
    assert not central.file("/etc/rsyslog.d/90-hisguard-forward.conf").exists
    receiver = central.file("/etc/rsyslog.d/10-hisguard-central.conf").content_string
    assert 'input(type="imtcp" port="514"' in receiver
    assert central.file("/var/log/remote").mode == 0o750


@pytest.mark.parametrize("host_name", [CENTRAL, CLIENT])
def test_journal_persistent_with_retention(host_name, client, central):
    host = central if host_name == CENTRAL else client
    config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "Storage=persistent" in config and "MaxRetentionSec=180day" in config
    machine_id = host.file("/etc/machine-id").content_string.strip()
    assert host.file(f"/var/log/journal/{machine_id}/system.journal").exists


@pytest.mark.parametrize("host_name", [CENTRAL, CLIENT])
def test_rsyslog_files_kept_six_months(host_name, client, central):
    host = central if host_name == CENTRAL else client
    debug = host.run("logrotate -d /etc/logrotate.conf")
    text = debug.stdout + debug.stderr
    stanza = text[text.index("rotating pattern: /var/log/syslog") :]
    assert "weekly (26 rotations)" in stanza.split("rotating pattern:")[1]


def test_central_keeps_received_logs(central):
    text = central.run("logrotate -d /etc/logrotate.conf").stderr
    assert "rotating pattern: /var/log/remote/*.log  weekly (26 rotations)" in text


# ------------------------------------------------------------------ P2.5.2 auditd


@pytest.mark.parametrize("host_name", [CENTRAL, CLIENT])
def test_audit_rules_installed_and_compiled(host_name, client, central):
    host = central if host_name == CENTRAL else client
    rules = host.file(AUDIT_RULES)
    assert rules.mode == 0o640 and "-w /etc/passwd -p wa -k identity" in rules.content_string
    compiled = host.file("/etc/audit/audit.rules").content_string
    assert "-w /etc/sudoers -p wa -k privilege" in compiled
    assert "-a always,exit -F arch=b64 -S execve -C uid!=euid -F euid=0 -k privilege" in compiled
    assert host.service("auditd").is_enabled


def test_kernel_refuses_audit_control_in_containers(client):
    """The observed fact P2.5.2 reports: not a pass, not hidden."""
    status = client.run("auditctl -s")
    assert status.rc != 0 and "Operation not permitted" in status.stderr
    assert not client.service("auditd").is_running


# ------------------------------------------------------------------ audit made no change


@pytest.mark.parametrize("host_name", [CENTRAL, CLIENT])
def test_prepare_audit_changed_nothing(host_name):
    before = ephemeral() / f"etc-{host_name}-before-audit.txt"
    after = ephemeral() / f"etc-{host_name}-after-audit.txt"
    assert before.read_text() == after.read_text()
    assert len(before.read_text().splitlines()) > 100


# ------------------------------------------------------------------ results (compliance callback)


@pytest.mark.parametrize("host_name", [CENTRAL, CLIENT])
@pytest.mark.parametrize("control", ["P2.4.10", "P2.5.2"])
def test_results_before_enforce_fail(audit_results, host_name, control):
    result = only_result(audit_results, host_name, control)
    assert result["status"] == "fail", result["observed"]
    assert result["evidence"]["mode"] == "audit"
    assert result["remediation"]
    stats = audit_results["run"]["stats"][host_name]
    assert stats["changed"] == 0 and stats["failures"] == 0


def test_results_before_enforce_name_the_findings(audit_results):
    client = " ".join(only_result(audit_results, CLIENT, "P2.4.10")["observed"])
    assert "journald Storage=auto, expected persistent" in client
    assert "rsyslog is inactive" in client
    assert "does not forward to logging-central:514 over TCP" in client
    assert "/var/log/syslog is kept 28 days (4 x weekly), less than 180" in client
    central = " ".join(only_result(audit_results, CENTRAL, "P2.4.10")["observed"])
    assert "no rsyslog TCP receiver (imtcp) on port 514" in central
    audit = " ".join(only_result(audit_results, CLIENT, "P2.5.2")["observed"])
    assert "/etc/audit/rules.d/hisguard.rules is missing" in audit


@pytest.mark.parametrize("host_name", [CENTRAL, CLIENT])
def test_results_after_enforce_pass(converge_results, host_name):
    result = only_result(converge_results, host_name, "P2.4.10")
    assert result["status"] == "pass", result["observed"]
    assert result["evidence"]["mode"] == "enforce"


def test_client_result_names_the_connection(converge_results):
    observed = " ".join(only_result(converge_results, CLIENT, "P2.4.10")["observed"])
    assert "forwarding to logging-central:514/tcp, connected (10.77.40.10:514)" in observed


@pytest.mark.parametrize("host_name", [CENTRAL, CLIENT])
def test_auditd_result_reports_the_kernel_refusal_only(converge_results, host_name):
    """Everything the role controls is in place; the one finding is the kernel's refusal, as observed."""
    result = only_result(converge_results, host_name, "P2.5.2")
    assert result["status"] == "fail"
    assert len(result["observed"]) == 1
    assert "the kernel refuses audit control here" in result["observed"][0]
    assert "Operation not permitted" in result["observed"][0]
    auditd = result["evidence"]["auditd"]
    assert auditd["rules_file_ok"] and not auditd["compiled_missing"] and auditd["enabled"] == "enabled"


def test_last_run_changed_nothing(converge_results):
    """results-converge.json is written by the idempotence run last."""
    for host_name in (CENTRAL, CLIENT):
        assert converge_results["run"]["stats"][host_name]["changed"] == 0


# ------------------------------------------------------------------ bad input


def test_retention_under_six_months_is_refused():
    """A clear message, a non-zero exit, no traceback, nothing changed (validation runs first)."""
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    run = subprocess.run(
        [
            "ansible-playbook",
            "--inventory",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "--limit",
            CLIENT,
            "--extra-vars",
            "logging_retention_days=90",
            str(scenario / "converge.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "HISGUARD_RESULTS_FILE": str(ephemeral() / "results-bad-input.json"),
        },
    )
    assert run.returncode != 0
    output = " ".join((run.stdout + run.stderr).split())
    assert "logging_retention_days is 90: logs must be kept at least 180 days" in output
    assert "Traceback" not in run.stdout + run.stderr
    assert "changed=0" in run.stdout
