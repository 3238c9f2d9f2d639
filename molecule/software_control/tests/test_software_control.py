"""P1.3.6 / P1.3.7 / P1.4.13 / P2.5.6: the hosts after enforce, the untouched audit, the refusal."""

import pytest
from conftest import HOSTS, SERVER, WORKSTATION, ephemeral, results_of

WORKSTATION_CONTROLS = {"P1.3.6", "P1.3.7", "P1.4.13"}


def listening(host, port: int) -> bool:
    return f":{port} " in host.check_output("ss -Htln")


# ------------------------------------------------------------------ workstation after enforce


@pytest.mark.parametrize("package", ["sunloginclient", "telnet", "inetutils-telnet"])
def test_denied_and_unapproved_packages_purged(host, package):
    assert not host[WORKSTATION].package(package).is_installed
    assert host[WORKSTATION].run("dpkg-query -W %s", package).rc != 0  # purged, no config-files left


def test_anydesk_unit_stopped_and_removed(host):
    ws = host[WORKSTATION]
    assert not ws.file("/etc/systemd/system/anydesk.service").exists
    assert ws.run("systemctl is-active anydesk.service").stdout.strip() != "active"
    assert not listening(ws, 7070)


def test_no_remote_desktop_process_left(host):
    ws = host[WORKSTATION]
    assert ws.run("pgrep -x anydesk").rc == 1
    assert ws.run("pgrep -x x11vnc").rc == 1
    assert not listening(ws, 5901)


# ------------------------------------------------------------------ server after enforce


def test_server_keeps_unapproved_packages_by_default(host):
    assert host[SERVER].package("inetutils-telnet").is_installed  # reported, not removed
    assert host[SERVER].package("telnet").is_installed  # approved for servers


def test_server_keeps_the_approved_remote_tool_and_the_port_only_listener(host):
    srv = host[SERVER]
    assert srv.run("pgrep -x xrdp").rc == 0 and listening(srv, 3389)
    # a process no tool names, found only by its VNC port: reported, never killed by name guessing
    assert srv.run("pgrep -x screenshare").rc == 0 and listening(srv, 5900)


# ------------------------------------------------------------------ the audit and the refusal changed nothing


@pytest.mark.parametrize("name", HOSTS)
def test_prepare_audit_and_refusal_changed_nothing(name):
    before = (ephemeral() / f"state-{name}-before-audit.txt").read_text()
    after = (ephemeral() / f"state-{name}-after-audit.txt").read_text()
    assert before == after
    assert " /var/lib/dpkg/status -> " in before and " /etc/systemd/system -> " in before


def test_refused_enforce_says_why(refused_results):
    output = (ephemeral() / "refused-output.txt").read_text()
    assert "enforce refused, nothing was changed" in output
    assert "would also remove the approved package(s) telnet" in output
    assert "Traceback" not in output
    result = results_of(refused_results, SERVER)["P2.5.6"]
    assert result["status"] == "error"
    assert result["observed"][0].startswith("enforce refused, nothing was changed")


# ------------------------------------------------------------------ results before enforce (audit)


def test_audit_workstation_fails_every_workstation_control(audit_results):
    results = results_of(audit_results, WORKSTATION)
    assert set(results) == WORKSTATION_CONTROLS
    for result in results.values():
        assert result["status"] == "fail"
        assert result["role"].rsplit(".", 1)[-1] == "software_control"
        assert result["evidence"]["mode"] == "audit"
        tools = {hit["name"]: hit for hit in result["evidence"]["remote_tools"]}
        assert set(tools) == {"anydesk", "sunlogin", "x11vnc", "vnc-port"}
        assert tools["sunlogin"]["packages"] == ["sunloginclient"]
        assert [u["name"] for u in tools["anydesk"]["units"]] == ["anydesk.service"]
        assert tools["anydesk"]["units"][0]["fragment"] == "/etc/systemd/system/anydesk.service"
        assert [p["port"] for p in tools["anydesk"]["ports"]] == [7070]
        assert tools["anydesk"]["processes"][0]["names"][0] == "anydesk"
        assert [p["port"] for p in tools["vnc-port"]["ports"]] == [5901]
        assert [p["name"] for p in result["evidence"]["unapproved"]] == ["inetutils-telnet", "telnet"]
        assert result["remediation"]
    stats = audit_results["run"]["stats"]
    assert all(stats[name]["changed"] == 0 and stats[name]["failures"] == 0 for name in HOSTS)


def test_audit_server_reports_p2_5_6_only(audit_results):
    results = results_of(audit_results, SERVER)
    assert set(results) == {"P2.5.6"}
    result = results["P2.5.6"]
    assert result["status"] == "fail"
    assert [hit["name"] for hit in result["evidence"]["remote_tools"]] == ["vnc-port"]
    assert result["evidence"]["approved_remote_tools_present"] == ["xrdp"]
    assert [p["name"] for p in result["evidence"]["unapproved"]] == [
        "inetutils-telnet"
    ]  # telnet is approved extra
    assert result["evidence"]["approved_extra"] == ["telnet"]


# ------------------------------------------------------------------ results after enforce


def test_enforced_workstation_passes(converge_results):
    results = results_of(converge_results, WORKSTATION)
    assert set(results) == WORKSTATION_CONTROLS
    for result in results.values():
        assert result["status"] == "pass", result["observed"]
        assert result["evidence"]["mode"] == "enforce"
        assert result["evidence"]["remote_tools"] == [] and result["evidence"]["unapproved"] == []


def test_enforced_server_still_fails_with_what_it_may_not_remove(converge_results):
    result = results_of(converge_results, SERVER)["P2.5.6"]
    assert result["status"] == "fail"
    observed = " ".join(result["observed"])
    assert "inetutils-telnet" in observed
    assert "vnc-port: listening 5900/tcp on 127.0.0.1 by screenshare" in observed


def test_last_run_changed_nothing(converge_results):
    """results-converge.json is written by the idempotence run last."""
    for name in HOSTS:
        assert converge_results["run"]["stats"][name]["changed"] == 0
