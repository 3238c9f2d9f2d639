"""inspection, log_review and ip_register: the results of each control on the passing and the failing server,
the side-effect runs, and the hosts left as prepare made them."""

import pytest
from conftest import BAD, GOOD, ROGUE, SERVERS, SNAPSHOT_SCRIPT, host, load_results, only_result

CONTROLS = ["P2.7.3", "P2.4.8", "P2.6.8", "P2.4.2", "P2.4.5", "P2.4.10", "P2.5.2", "P1.4.10"]
# Every control passes on ops-good; on ops-bad all but the log review fail (a review collected is a pass:
# its findings are for the administrator; the failing case is a week without logs, see side_effect.yml).
EXPECTED = {
    GOOD: dict.fromkeys(CONTROLS, "pass"),
    BAD: {**dict.fromkeys(CONTROLS, "fail"), "P2.4.10": "pass", "P2.5.2": "pass"},
}


def observed_text(result: dict) -> str:
    observed = result["observed"]
    return observed if isinstance(observed, str) else " ".join(map(str, observed))


# ------------------------------------------------------------------ converge (the idempotence run)


@pytest.mark.parametrize("host_name", SERVERS)
@pytest.mark.parametrize("control", CONTROLS)
def test_control_status(converge_results, host_name, control):
    result = only_result(converge_results, host_name, control)
    assert result["status"] == EXPECTED[host_name][control], result["observed"]
    assert result["remediation"]


def test_one_result_per_host_and_control(converge_results):
    """8 controls on each server, the sweep on the scanner; nothing on the rogue, no switch results."""
    keys = [(r["host"], r["control"]) for r in converge_results["results"]]
    assert len(keys) == len(set(keys)) == 2 * len(CONTROLS) + 1
    assert (GOOD, "P1.3.5") in keys
    assert not [key for key in keys if key[0] == ROGUE]


def test_idempotence_run_changed_nothing(converge_results):
    stats = converge_results["run"]["stats"]
    for host_name in (*SERVERS, ROGUE):
        assert stats[host_name]["changed"] == 0 and stats[host_name]["failures"] == 0


def test_ups(converge_results):
    good = only_result(converge_results, GOOD, "P2.7.3")
    assert good["evidence"]["items"][0]["detail"]["ups_status"] == "OL"
    bad = observed_text(only_result(converge_results, BAD, "P2.7.3"))
    assert "UPS ops-ups-bad OB DISCHRG: on battery (OB)" in bad


def test_services(converge_results):
    assert "running: ssh, rsyslog" in observed_text(only_result(converge_results, GOOD, "P2.4.8"))
    assert "[alarm] rsyslog is inactive" in observed_text(only_result(converge_results, BAD, "P2.4.8"))


def test_backup_age(converge_results):
    good = only_result(converge_results, GOOD, "P2.6.8")
    assert 1 <= good["evidence"]["items"][0]["detail"]["age_hours"] < 2  # prepare wrote "an hour ago"
    assert "older than 26 h" in observed_text(only_result(converge_results, BAD, "P2.6.8"))


def test_monthly(converge_results):
    good = only_result(converge_results, GOOD, "P2.4.2")
    states = {item["item"]: item["status"] for item in good["evidence"]["items"]}
    # A container has no SMART disk and no kernel log of its own: said so, not passed.
    assert states == {"uptime": "ok", "smart": "not_applicable", "fs_errors": "not_applicable"}
    assert "replacement was due 2021-03-01" in observed_text(only_result(converge_results, BAD, "P2.4.5"))


def test_log_review_findings(converge_results):
    bad = only_result(converge_results, BAD, "P2.4.10")["evidence"]["review"]
    assert bad["source"] == "journal" and bad["counts"]["auth_failures"] >= 1
    assert any("nosuchuser" in line["text"] for line in bad["categories"]["auth_failures"]["lines"])
    good = only_result(converge_results, GOOD, "P2.5.2")["evidence"]
    assert good["counts"]["sudo"] >= 1


def test_ip_register_host(converge_results):
    text = observed_text(only_result(converge_results, BAD, "P1.4.10"))
    assert "10.77.83.20 is on eth0 with MAC 02:83:00:00:00:20, the register says 02:83:00:00:00:99" in text


def test_sweep_finds_the_rogue_and_the_wrong_mac(converge_results):
    result = only_result(converge_results, GOOD, "P1.3.5")
    assert result["status"] == "fail"
    observed = result["observed"]
    assert [(u["address"], u["mac"]) for u in observed["unknown"]] == [("10.77.83.30", "02:83:00:00:00:30")]
    assert [(m["address"], m["owner"]) for m in observed["mac_mismatch"]] == [("10.77.83.20", BAD)]
    seen = {entry["address"] for entry in result["evidence"]["seen"]}
    assert seen == {"10.77.83.1", "10.77.83.20", "10.77.83.30"}  # the scanner leaves itself out


# ------------------------------------------------------------------ side_effect.yml


def test_week_without_logs_is_an_error():
    document = load_results("results-no-logs.json")
    for control in ("P2.4.10", "P2.5.2"):
        result = only_result(document, BAD, control)
        assert result["status"] == "error"
        assert "/var/log/auth.log" in observed_text(result)
    good = only_result(document, GOOD, "P2.4.10")
    assert good["status"] == "pass" and good["evidence"]["review"]["source"] == "auth.log"


def test_updated_register_passes():
    document = load_results("results-register-updated.json")
    for host_name in (*SERVERS, ROGUE):
        assert only_result(document, host_name, "P1.4.10")["status"] == "pass"
    sweep = only_result(document, GOOD, "P1.3.5")
    assert sweep["status"] == "pass", sweep["observed"]
    assert sweep["observed"]["known"] == 3


# ------------------------------------------------------------------ the hosts: every run was read-only


@pytest.mark.parametrize("host_name", SERVERS)
def test_hosts_unchanged_since_prepare(snapshots, host_name):
    """check, converge, idempotence and both side-effect runs changed nothing the snapshot covers."""
    now = host(host_name).check_output(SNAPSHOT_SCRIPT.read_text(encoding="utf-8"))
    assert len(snapshots[host_name].splitlines()) > 500
    assert now == snapshots[host_name].rstrip("\n")


def test_findings_left_as_they_were():
    """Nothing was 'fixed' behind the results: ops-bad is still on battery, rsyslog still stopped."""
    bad = host(BAD)
    assert bad.check_output("upsc ops-ups-bad@localhost ups.status") == "OB DISCHRG"
    assert not bad.service("rsyslog").is_running
    assert bad.service("ssh").is_running
    assert host(GOOD).service("rsyslog").is_running
