"""P1.3.9 / P1.4.6: the hosts after enforce and a reboot, the audit-only host, and the results files."""

import json

import pytest
from conftest import (
    CANARY_IP,
    GATEWAY,
    GATEWAY_INTRANET_IP,
    INTRANET_SERVICE,
    MISROUTED,
    ephemeral,
    only_result,
)

POLICY_FILE = "/etc/nftables.d/hisguard-egress.nft"
INCLUDE = f'include "{POLICY_FILE}"'
# One DNS query for canary.example.com straight to the canary; prints the answer's size or the error.
DNS_QUERY = (
    "import socket,struct,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(2)\n"
    "q=struct.pack('>HHHHHH',4660,256,1,0,0,0)+b'\\x06canary\\x07example\\x03com\\x00'+struct.pack('>HH',1,1)\n"
    "try:\n s.connect((sys.argv[1],53));s.send(q);print('answer',len(s.recv(512)))\n"
    "except OSError as e:\n print('error',e);sys.exit(1)\n"
)


def curl(host, url: str):
    return host.run("curl -sS -m 2 -o /dev/null -w '%%{http_code}' %s", url)


# ------------------------------------------------------------- the misrouted workstation (enforced, rebooted)


def test_misrouted_was_rebooted():
    """side_effect restarted the enforced containers: everything below holds after a boot."""
    reboots = json.loads((ephemeral() / "reboots.json").read_text())
    for name in (MISROUTED, GATEWAY):
        before, after = reboots[name]
        assert before != after


def test_canary_unreachable_from_misrouted(misrouted):
    result = curl(misrouted, f"http://{CANARY_IP}/")
    assert result.rc != 0, result.stdout
    assert misrouted.run("python3 -c %s %s", DNS_QUERY, CANARY_IP).rc != 0


def test_intranet_still_works_from_misrouted(misrouted):
    result = curl(misrouted, INTRANET_SERVICE)
    assert result.rc == 0 and result.stdout == "200"


def test_default_route_removed_and_unit_disabled(misrouted):
    assert misrouted.check_output("ip -4 route show default") == ""
    unit = misrouted.service("netiso-uplink-route")
    assert not unit.is_enabled
    # The unit file itself is left for the administrator; only its start at boot is gone.
    assert misrouted.file("/etc/systemd/system/netiso-uplink-route.service").exists


def test_egress_policy_loaded_and_enabled(misrouted):
    table = misrouted.check_output("nft list table inet hisguard_egress")
    assert "hook output" in table and "hook forward" in table
    assert "10.77.30.0/24" in table
    assert "reject with icmpx admin-prohibited" in table
    assert misrouted.service("nftables").is_enabled
    assert INCLUDE in misrouted.file("/etc/nftables.conf").content_string.splitlines()
    policy = misrouted.file(POLICY_FILE)
    assert policy.user == "root" and policy.mode == 0o644


def reject_count(host) -> int:
    rules = host.check_output("nft list chain inet hisguard_egress output")
    line = next(line for line in rules.splitlines() if "reject with" in line)
    return int(line.split("counter packets ")[1].split()[0])


def test_policy_blocks_even_with_the_rogue_route_back(misrouted):
    """Put the rogue default route back by hand: the egress policy alone still stops the canary."""
    before = reject_count(misrouted)
    misrouted.check_output("ip route replace default via %s", GATEWAY_INTRANET_IP)
    try:
        assert curl(misrouted, f"http://{CANARY_IP}/").rc != 0
        assert misrouted.run("python3 -c %s %s", DNS_QUERY, CANARY_IP).rc != 0
        assert curl(misrouted, INTRANET_SERVICE).stdout == "200"
    finally:
        misrouted.run("ip route del default via %s", GATEWAY_INTRANET_IP)
    assert reject_count(misrouted) >= before + 2


# ------------------------------------------------------------------ the gateway (Internet zone, enforced)


def test_gateway_reaches_only_approved(gateway):
    assert curl(gateway, f"http://{CANARY_IP}/").stdout == "200"  # approved: tcp/80, ticket OA-2025-0733
    assert gateway.run("python3 -c %s %s", DNS_QUERY, CANARY_IP).rc != 0  # DNS is not approved
    table = gateway.check_output("nft list table inet hisguard_egress")
    assert f"ip daddr {CANARY_IP} tcp dport 80 accept" in table
    assert 'comment "approved OA-2025-0733"' in table
    assert gateway.service("nftables").is_enabled


# ------------------------------------------------------------------ the audit is read-only


@pytest.mark.parametrize("host_name", [MISROUTED, GATEWAY])
def test_prepare_audit_changed_nothing(host_name):
    before = ephemeral() / f"state-{host_name}-before-audit.txt"
    after = ephemeral() / f"state-{host_name}-after-audit.txt"
    assert before.read_text() == after.read_text()
    text = before.read_text()
    assert len(text.splitlines()) > 100
    assert "## nft list ruleset" in text


# ------------------------------------------------------------------ results (compliance callback)


def test_misrouted_fails_before_enforce(audit_results):
    result = only_result(audit_results, MISROUTED, "P1.3.9")
    assert result["status"] == "fail"
    assert result["role"].endswith("network_isolation")
    observed = " ".join(result["observed"])
    assert f"default via {GATEWAY_INTRANET_IP} dev eth0" in observed
    assert "netiso-uplink-route.service (enabled)" in observed
    assert f"HTTP http://{CANARY_IP}:80/: answered" in observed
    assert f"DNS {CANARY_IP}:53 (canary.example.com): answered" in observed
    assert result["remediation"]
    assert audit_results["run"]["stats"][MISROUTED]["changed"] == 0


def test_gateway_fails_before_enforce(audit_results):
    result = only_result(audit_results, GATEWAY, "P1.4.6")
    assert result["status"] == "fail"
    observed = " ".join(result["observed"])
    assert "hisguard-egress.nft is missing" in observed
    assert f"DNS {CANARY_IP}:53 (canary.example.com): answered" in observed and "not an approved" in observed
    assert only_result(audit_results, GATEWAY, "P1.3.9")["status"] == "not_applicable"


def test_audit_changed_nothing(audit_results):
    for stats in audit_results["run"]["stats"].values():
        assert stats["changed"] == 0 and stats["failures"] == 0


def test_misrouted_passes_after_enforce(converge_results):
    result = only_result(converge_results, MISROUTED, "P1.3.9")
    assert result["status"] == "pass", result["observed"]
    assert result["evidence"]["mode"] == "enforce"
    assert result["evidence"]["egress_policy"]["problems"] == []
    assert only_result(converge_results, MISROUTED, "P1.4.6")["status"] == "not_applicable"


def test_gateway_passes_after_enforce(converge_results):
    result = only_result(converge_results, GATEWAY, "P1.4.6")
    assert result["status"] == "pass", result["observed"]
    probes = {p["kind"]: p for p in result["evidence"]["probes"]}
    assert probes["http"]["reachable"] and probes["http"]["approved"]
    assert not probes["dns"]["reachable"] and not probes["dns"]["approved"]


def test_last_run_changed_nothing(converge_results):
    """The idempotence run changed nothing anywhere."""
    for stats in converge_results["run"]["stats"].values():
        assert stats["changed"] == 0


def test_enforced_hosts_pass_after_reboot(reboot_results):
    result = only_result(reboot_results, MISROUTED, "P1.3.9")
    assert result["status"] == "pass", result["observed"]
    assert result["evidence"]["egress_policy"]["required"] is True
    assert only_result(reboot_results, GATEWAY, "P1.4.6")["status"] == "pass"
