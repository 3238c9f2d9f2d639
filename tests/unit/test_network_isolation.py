"""plugins/module_utils/network_isolation.py: settings, route/interface classification, the egress policy,
the verdict of P1.3.9 / P1.4.6, and the probes (against servers on loopback only)."""

import importlib.util
import ipaddress
import json
import socket
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "plugins" / "module_utils" / "network_isolation.py"
_spec = importlib.util.spec_from_file_location("network_isolation", HELPER)
ni = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ni)

CANARY = {
    "address": "198.51.100.80",
    "tcp_port": 80,
    "http_url": "http://198.51.100.80/",
    "dns_server": "198.51.100.80",
    "dns_name": "canary.example.com",
}
RAW = {
    "zone": "intranet",
    "intranet_cidrs": ["10.77.10.0/24"],
    "mirror_addresses": ["10.77.10.12"],
    "canaries": [CANARY],
    "timeout": 2,
    "policy_id": "0123456789abcdef",
    "policy_file_sha256": "f" * 64,
    "policy_expected": False,
}

# `ip -j -4 route show table all` on the lab's ws-03 (misrouted through inet-gw).
WS03_ROUTES = [
    {"dst": "default", "gateway": "10.77.10.2", "dev": "eth0", "flags": []},
    {"dst": "10.77.10.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "10.77.10.23"},
    {"type": "local", "dst": "10.77.10.23", "table": "local", "dev": "eth0", "protocol": "kernel"},
    {"type": "broadcast", "dst": "10.77.10.255", "table": "local", "dev": "eth0", "protocol": "kernel"},
    {"type": "local", "dst": "127.0.0.0/8", "table": "local", "dev": "lo", "protocol": "kernel"},
]
LAB_UNIT = """\
[Unit]
Description=Lab: default route via 10.77.10.2
After=network.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/ip route replace default via 10.77.10.2
[Install]
WantedBy=multi-user.target
"""


def settings(**overrides):
    raw = {**RAW, **overrides}
    result, errors = ni.normalize_settings(raw)
    assert errors == []
    return result


def errors_of(**overrides):
    return ni.normalize_settings({**RAW, **overrides})[1]


def routes(entries, family=4):
    return ni.parse_routes(entries, family)


def eth0(address="10.77.10.21", **sysfs):
    return {
        "name": "eth0",
        "operstate": "UP",
        "link_type": "ether",
        "addresses": [{"family": "inet", "local": address, "prefixlen": 24, "scope": "global"}],
        "sysfs": {"wireless": False, "phy80211": False, "devtype": "", "driver": "", "type": 1, **sysfs},
    }


def probe(kind, reachable, address="198.51.100.80", port=80, protocol="tcp", detail=None):
    return {
        "kind": kind,
        "target": f"{address}:{port}",
        "address": address,
        "port": port,
        "protocol": protocol,
        "reachable": reachable,
        "detail": detail or ("connected" if reachable else "Network is unreachable"),
        "ms": 1,
    }


def all_probes(reachable):
    return [
        probe("tcp", reachable),
        probe("http", reachable),
        probe("dns", reachable, port=53, protocol="udp"),
    ]


# --------------------------------------------------------------------------- settings


def test_lab_settings_are_valid():
    s = settings()
    assert s["intranet"] == [ipaddress.ip_network("10.77.10.0/24")]
    assert s["canaries"][0]["http"][1:4] == (ipaddress.ip_address("198.51.100.80"), 80, "/")
    assert s["canaries"][0]["dns"] == (ipaddress.ip_address("198.51.100.80"), 53, "canary.example.com")


def test_no_canaries_is_a_clear_error():
    (message,) = errors_of(canaries=[])
    assert "network_isolation_canaries is empty" in message and "hisguard_internet_canaries" in message


def test_no_intranet_cidrs_is_an_error_for_intranet_hosts_only():
    assert any("network_isolation_intranet_cidrs is empty" in e for e in errors_of(intranet_cidrs=[]))
    assert errors_of(intranet_cidrs=[], zone="internet") == []


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"intranet_cidrs": ["10.77.10.5/24"]}, "host bits set; write the network as 10.77.10.0/24"),
        ({"intranet_cidrs": ["intranet"]}, "'intranet' is not an IP address or CIDR"),
        ({"zone": "dmz"}, "neither 'intranet' nor 'internet'"),
        ({"canaries": [{**CANARY, "address": "canary.example.com"}]}, "names are never resolved"),
        ({"canaries": [{**CANARY, "http_url": "http://canary.example.com/"}]}, "use the canary's IP address"),
        ({"canaries": [{**CANARY, "http_url": "ftp://198.51.100.80/"}]}, "not an http:// or https:// URL"),
        ({"canaries": [{**CANARY, "tcp_port": 70000}]}, "70000 is not a port number"),
        ({"canaries": [{**CANARY, "dns_name": ""}]}, "is not a DNS name to query"),
        ({"canaries": [{"address": "198.51.100.80"}]}, "give at least one of tcp_port, http_url, dns_server"),
        ({"canaries": [{**CANARY, "address": "10.77.10.99"}]}, "is inside the intranet (10.77.10.0/24)"),
        ({"timeout": 0}, "network_isolation_probe_timeout"),
        ({"timeout": 30}, "network_isolation_probe_timeout"),
        ({"allowed_gateways": ["core-router"]}, "network_isolation_allowed_gateways: 'core-router'"),
    ],
)
def test_bad_settings_name_what_to_fix(overrides, fragment):
    assert any(fragment in e for e in errors_of(**overrides)), errors_of(**overrides)


def test_approved_destinations_need_their_approval():
    entry = {"destination": "203.0.113.0/24", "protocol": "any", "ports": [443]}
    found = errors_of(zone="internet", approved_destinations=[entry])
    assert any("ports need protocol tcp or udp" in e for e in found)
    assert any(".ticket is missing" in e for e in found)
    assert any(".description is missing" in e for e in found)


def test_flags_from_templated_strings():
    assert settings(policy_expected="True")["policy_expected"] is True
    assert settings(policy_expected="False")["policy_expected"] is False
    assert settings(probe="false")["probe"] is False


# --------------------------------------------------------------------------- routes


def test_ws03_default_route_is_a_removable_problem():
    s = settings()
    verdicts = [(ni.format_route(r), *ni.classify_route(r, s)) for r in routes(WS03_ROUTES)]
    assert verdicts[0][:2] == ("default via 10.77.10.2 dev eth0", "problem")
    assert "not in network_isolation_allowed_gateways" in verdicts[0][2]
    assert verdicts[1][1] == "intranet"
    assert all(v[1] == "ignored" for v in verdicts[2:])
    default = routes(WS03_ROUTES)[0]
    assert ni.removable(default)
    assert ni.route_delete_argv(default) == [
        "ip", "-4", "route", "del", "default", "via", "10.77.10.2", "dev", "eth0", "table", "main",
    ]  # fmt: skip


def test_approved_gateway_and_exempt_interface():
    s = settings(allowed_gateways=["10.77.10.1"], allowed_interfaces=["docker*"])
    default = routes([{"dst": "default", "gateway": "10.77.10.1", "dev": "eth0"}])[0]
    assert ni.classify_route(default, s)[0] == "approved_gateway"
    docker = routes([{"dst": "172.17.0.0/16", "dev": "docker0", "protocol": "kernel"}])[0]
    assert ni.classify_route(docker, s)[0] == "exempt"


def test_other_non_intranet_routes():
    s = settings()
    connected, via, dev_default, link_local = routes(
        [
            {"dst": "192.168.8.0/24", "dev": "usb0", "protocol": "kernel", "scope": "link"},
            {"dst": "0.0.0.0/1", "gateway": "10.77.10.9", "dev": "eth0"},
            {"dst": "default", "dev": "ppp0", "scope": "link"},
            {"dst": "169.254.0.0/16", "dev": "eth0", "scope": "link"},
        ]
    )
    assert ni.classify_route(connected, s) == (
        "problem",
        "route to 192.168.8.0/24, outside the intranet, on usb0",
    )
    assert not ni.removable(connected)  # belongs to its interface: reported, not removed
    assert ni.classify_route(via, s)[0] == "problem" and ni.removable(via)
    assert ni.classify_route(dev_default, s) == ("problem", "default route straight out of ppp0")
    assert ni.classify_route(link_local, s)[0] == "ignored"


def test_ipv6_and_multipath_routes():
    s = settings()
    (ra_default,) = routes([{"dst": "default", "gateway": "fe80::1", "dev": "eth0", "protocol": "ra"}], 6)
    assert ni.classify_route(ra_default, s)[0] == "problem"
    assert ni.route_delete_argv(ra_default)[:5] == ["ip", "-6", "route", "del", "default"]
    (multipath,) = routes(
        [
            {
                "dst": "default",
                "metric": 100,
                "nexthops": [
                    {"gateway": "10.77.10.2", "dev": "eth0"},
                    {"gateway": "10.77.10.3", "dev": "eth0"},
                ],
            }
        ]
    )
    assert multipath["gateways"] == ["10.77.10.2", "10.77.10.3"]
    assert ni.route_delete_argv(multipath) == [
        "ip",
        "-4",
        "route",
        "del",
        "default",
        "table",
        "main",
        "metric",
        "100",
    ]


# --------------------------------------------------------------------------- what re-adds a route


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "/usr/sbin/ip route replace default via 10.77.10.2",
            {"family": 4, "dst": "default", "gateway": "10.77.10.2", "dev": None, "table": "main"},
        ),
        (
            "ip -6 r a default via fe80::1 dev eth0 table 100",
            {"family": 6, "dst": "default", "gateway": "fe80::1", "dev": "eth0", "table": "100"},
        ),
        (
            "ip route add 0.0.0.0/1 via 10.0.0.1 metric 5 onlink",
            {"family": 4, "dst": "0.0.0.0/1", "gateway": "10.0.0.1", "dev": None, "table": "main"},
        ),
        (
            "/sbin/route add default gw 192.168.1.1",
            {"family": 4, "dst": "default", "gateway": "192.168.1.1", "dev": None, "table": "main"},
        ),
        (
            "route add -net 192.168.8.0 netmask 255.255.255.0 gw 10.77.10.2",
            {"family": 4, "dst": "192.168.8.0/24", "gateway": "10.77.10.2", "dev": None, "table": "main"},
        ),
        ("ip link set eth0 up", None),
        ("ip route del default", None),
        ("/usr/bin/python3 -m http.server", None),
    ],
)
def test_parse_route_command(command, expected):
    assert ni.parse_route_command(command.split()) == expected


def test_parse_unit():
    lab = ni.parse_unit(LAB_UNIT)
    assert lab["route_only"] is True
    assert lab["routes"][0]["gateway"] == "10.77.10.2"
    mixed = ni.parse_unit(
        "[Service]\nExecStartPre=-/usr/sbin/ip route add default \\\n  via 10.0.0.1\n"
        "ExecStart=/usr/bin/vpnd\n"
    )
    assert mixed["routes"][0]["gateway"] == "10.0.0.1"  # continuation line joined, '-' prefix stripped
    assert mixed["route_only"] is False
    assert ni.parse_unit("[Service]\nExecStart=/usr/bin/true\n")["routes"] == []


# --------------------------------------------------------------------------- interfaces


@pytest.mark.parametrize(
    ("iface", "fragment"),
    [
        ({**eth0(), "name": "wlan0", "sysfs": {"wireless": True}}, "wlan0: wireless interface (up)"),
        (
            {**eth0(), "name": "wlp2s0", "operstate": "DOWN", "sysfs": {"phy80211": True}},
            "wireless interface (down)",
        ),
        ({**eth0(), "name": "enx0c5b8f279a64", "sysfs": {"driver": "rndis_host"}}, "USB-tethering"),
        ({**eth0(), "name": "wwan0", "sysfs": {"devtype": "wwan"}}, "mobile-broadband"),
        ({**eth0(), "name": "ppp0", "addresses": [], "sysfs": {"type": 512}}, "PPP (dial-up or mobile) link"),
        (eth0("192.168.8.100"), "eth0: address 192.168.8.100/24 is outside the intranet"),
    ],
)
def test_interface_problems(iface, fragment):
    problems = ni.classify_interface(iface, settings())
    assert any(fragment in p for p in problems), problems


def test_interfaces_without_problems():
    s = settings(allowed_interfaces=["docker0"])
    assert ni.classify_interface(eth0(), s) == []
    assert ni.classify_interface({**eth0("172.17.0.1"), "name": "docker0"}, s) == []
    link_local = eth0()
    link_local["addresses"].append({"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"})
    assert ni.classify_interface(link_local, s) == []
    assert ni.describe_interface(eth0()) == "eth0 (up, 10.77.10.21/24)"


# --------------------------------------------------------------------------- SSH sessions

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 150A4D0A:0016 010A4D0A:D2F0 01 00000000:00000000 02:000A7F3F 00000000     0        0 2 1
   2: 150A4D0A:9C40 020A4D0A:0050 01 00000000:00000000 00:00000000 00000000     0        0 3 1
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st
   0: 0000000000000000FFFF0000150A4D0A:0016 0000000000000000FFFF0000630A4D0A:C001 01 0
   1: 000080FE00000000FF0F02C0FE6D0000:0016 000080FE000000000000000001000000:C002 01 0
"""


def test_parse_proc_net_tcp():
    assert ni.parse_proc_net_tcp(PROC_NET_TCP, 22) == ["10.77.10.1"]
    assert ni.parse_proc_net_tcp(PROC_NET_TCP6, 22) == ["10.77.10.99", "fe80::1"]
    assert ni.parse_proc_net_tcp(PROC_NET_TCP, 2222) == []


def test_ssh_guard():
    s = settings()
    default = routes(WS03_ROUTES)[0]
    inside = {"ssh_peers": ["10.77.10.1"], "ssh_peer_routes": {"10.77.10.1": {"dev": "eth0"}}}
    assert ni.ssh_guard(s, inside, [default]) == []
    outside = {"ssh_peers": ["172.16.5.5"], "ssh_peer_routes": {"172.16.5.5": {"gateway": "10.77.10.2"}}}
    messages = ni.ssh_guard(s, outside, [default])
    assert "network_isolation_management_addresses" in messages[0]
    assert "runs through default via 10.77.10.2 dev eth0" in messages[1]
    assert ni.ssh_guard(settings(management_addresses=["172.16.5.0/24"]), outside, []) == []


# --------------------------------------------------------------------------- the egress policy


def nft_document(elements=None, comment="hisguard-egress policy 0123456789abcdef", verdict="reject"):
    elements = elements if elements is not None else [{"prefix": {"addr": "10.77.10.0", "len": 24}}]
    items = [
        {"metainfo": {"version": "1.0.6"}},
        {"table": {"family": "inet", "name": "hisguard_egress"}},
        {"set": {"name": "allowed_v4", "table": "hisguard_egress", "type": "ipv4_addr", "elem": elements}},
        {"set": {"name": "allowed_v6", "table": "hisguard_egress", "type": "ipv6_addr"}},
    ]
    for chain in ("output", "forward"):
        items.append(
            {"chain": {"name": chain, "table": "hisguard_egress", "hook": chain, "policy": "accept"}}
        )
        items.append({"rule": {"chain": chain, "expr": [{"match": {}}, {"accept": None}]}})
        items.append({"rule": {"chain": chain, "comment": comment, "expr": [{"counter": {}}, {verdict: {}}]}})
    return {"nftables": items}


def good_policy(**overrides):
    return {
        "nft_present": True,
        "file_exists": True,
        "file_sha256": "f" * 64,
        "include_present": True,
        "service_enabled": "enabled",
        "loaded": ni.summarize_nft_table(nft_document()),
        **overrides,
    }


def test_summarize_nft_table_merges_ranges():
    summary = ni.summarize_nft_table(
        nft_document(
            [
                {"range": ["10.0.1.0", "10.0.2.255"]},
                "10.77.10.12",
                {"prefix": {"addr": "10.77.10.0", "len": 24}},
            ]
        )
    )
    assert summary["sets"]["allowed_v4"] == ["10.0.1.0/24", "10.0.2.0/24", "10.77.10.0/24"]
    assert summary["sets"]["allowed_v6"] == []
    assert summary["chains"]["output"] == {
        "hook": "output",
        "policy": "accept",
        "rules": 2,
        "last_verdict": "reject",
        "policy_id": "0123456789abcdef",
    }


def test_expected_sets_collapse_the_mirror_into_the_intranet():
    assert ni.expected_sets(settings()) == {"allowed_v4": ["10.77.10.0/24"], "allowed_v6": []}


def test_policy_as_described_passes():
    problems, good, loaded_ok = ni.evaluate_policy(settings(), good_policy())
    assert problems == [] and loaded_ok and "loaded from /etc/nftables.d/hisguard-egress.nft" in good[0]


@pytest.mark.parametrize(
    ("overrides", "fragment", "loaded_ok"),
    [
        ({"file_exists": False}, "hisguard-egress.nft is missing", True),
        ({"file_sha256": "0" * 64}, "differs from the policy the inventory describes", True),
        ({"include_present": False}, "does not include /etc/nftables.d/hisguard-egress.nft", True),
        ({"service_enabled": "disabled"}, "nftables.service is disabled at boot", True),
        ({"loaded": None, "load_error": "not loaded"}, "table inet hisguard_egress is not loaded", False),
        (
            {"loaded": ni.summarize_nft_table(nft_document(["10.0.0.0/8"]))},
            "loaded set allowed_v4 is ['10.0.0.0/8'], expected ['10.77.10.0/24']",
            False,
        ),
        (
            {
                "loaded": ni.summarize_nft_table(
                    nft_document(comment="hisguard-egress policy 00000000deadbeef")
                )
            },
            "is policy 00000000deadbeef, expected 0123456789abcdef",
            False,
        ),
        (
            {"loaded": ni.summarize_nft_table(nft_document(verdict="accept"))},
            "does not end by rejecting",
            False,
        ),
    ],
)
def test_policy_problems(overrides, fragment, loaded_ok):
    problems, good, ok = ni.evaluate_policy(settings(), good_policy(**overrides))
    assert any(fragment in p for p in problems), problems
    assert good == [] and ok is loaded_ok


# --------------------------------------------------------------------------- DNS and probe plan


def test_dns_query_and_response():
    query = ni.build_dns_query("canary.example.com", 0x1234)
    assert query[:2] == b"\x12\x34" and b"\x06canary\x07example\x03com\x00" in query
    response = b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + query[12:]
    assert ni.parse_dns_response(response, 0x1234) == {"rcode": "NOERROR", "answers": 1}
    assert ni.parse_dns_response(response, 0x9999) is None  # another query's answer
    assert ni.parse_dns_response(query, 0x1234) is None  # a query, not a response
    assert ni.parse_dns_response(b"\x12", 0x1234) is None


def test_probe_plan():
    plan = ni.probe_plan(settings())
    assert [(p["kind"], p["target"], p["protocol"]) for p in plan] == [
        ("tcp", "198.51.100.80:80", "tcp"),
        ("http", "http://198.51.100.80:80/", "tcp"),
        ("dns", "198.51.100.80:53 (canary.example.com)", "udp"),
    ]


def test_is_approved():
    s = settings(
        zone="internet",
        approved_destinations=[
            {
                "destination": "198.51.100.80",
                "protocol": "tcp",
                "ports": [80],
                "description": "portal",
                "ticket": "OA-1",
            }
        ],
    )
    assert ni.is_approved(s, "198.51.100.80", "tcp", 80)
    assert not ni.is_approved(s, "198.51.100.80", "tcp", 443)
    assert not ni.is_approved(s, "198.51.100.80", "udp", 53)
    assert ni.is_approved(s, "10.77.10.5", "udp", 53)  # the intranet is always open


# --------------------------------------------------------------------------- the verdict


def ws03_observations():
    return {
        "routes": routes(WS03_ROUTES),
        "interfaces": [eth0("10.77.10.23")],
        "units": [{"name": "lab-default-route.service", "enabled": "enabled", **ni.parse_unit(LAB_UNIT)}],
        "config_mentions": {"10.77.10.2": []},
        "ssh_peers": ["10.77.10.1"],
        "ssh_peer_routes": {"10.77.10.1": {"dev": "eth0"}},
        "policy": {"loaded": None, "load_error": "not loaded"},
        "probes": all_probes(True),
    }


def test_misrouted_workstation_fails():
    verdict = ni.evaluate(settings(), ws03_observations())
    assert verdict["status"] == "fail"
    assert verdict["problems"][0] == (
        "default via 10.77.10.2 dev eth0: default route via 10.77.10.2, a gateway not in "
        "network_isolation_allowed_gateways; configured in lab-default-route.service (enabled)"
    )
    assert any(p.startswith("HTTP 198.51.100.80:80: answered") for p in verdict["problems"])
    assert verdict["routes_to_remove"][0]["argv"][:5] == ["ip", "-4", "route", "del", "default"]
    assert verdict["units_to_disable"] == ["lab-default-route.service"]
    assert verdict["ssh_guard"] == []


def test_enabled_unit_alone_fails():
    """The route is gone now but an enabled unit adds it again at the next boot."""
    observations = {**ws03_observations(), "routes": routes(WS03_ROUTES[1:]), "probes": all_probes(False)}
    verdict = ni.evaluate(settings(), observations)
    assert verdict["status"] == "fail"
    assert verdict["problems"] == ["lab-default-route.service (enabled) adds default via 10.77.10.2 at boot"]
    observations["units"][0]["enabled"] = "static"  # pulled in by another unit: reported, not disabled
    verdict = ni.evaluate(settings(), observations)
    assert verdict["status"] == "fail" and verdict["units_to_disable"] == []
    observations["units"][0]["enabled"] = "disabled"
    assert ni.evaluate(settings(), observations)["status"] == "pass"


def test_isolated_workstation_passes():
    observations = {
        "routes": routes(WS03_ROUTES[1:]),
        "interfaces": [eth0()],
        "policy": {"loaded": None},
        "probes": all_probes(False),
    }
    verdict = ni.evaluate(settings(), observations)
    assert verdict["status"] == "pass", verdict
    assert verdict["problems"] == [] and verdict["routes_to_remove"] == []
    assert "no route leaves the intranet (1 routes checked)" in verdict["good"]
    assert "interfaces: eth0 (up, 10.77.10.21/24)" in verdict["good"]


def test_required_policy_missing_fails_an_isolated_host():
    observations = {"routes": [], "interfaces": [], "policy": {"loaded": None}, "probes": all_probes(False)}
    verdict = ni.evaluate(settings(policy_expected=True), observations)
    assert verdict["status"] == "fail"
    assert "/etc/nftables.d/hisguard-egress.nft is missing" in verdict["problems"]


def test_errors_without_problems_are_an_error():
    observations = {
        "errors": ["ip -j -4 route show table all failed (rc 1): ..."],
        "routes": [],
        "interfaces": [],
        "policy": {},
        "probes": [{**probe("tcp", False), "error": "OSError: boom"}],
    }
    verdict = ni.evaluate(settings(), observations)
    assert verdict["status"] == "error"
    assert any("could not run: OSError: boom" in e for e in verdict["errors"])


APPROVED_HTTP = {
    "destination": "198.51.100.80",
    "protocol": "tcp",
    "ports": [80],
    "description": "vendor portal",
    "ticket": "OA-2025-0733",
}


def internet_observations(probes, policy=None):
    return {
        "routes": routes([{"dst": "default", "gateway": "198.51.100.1", "dev": "eth1"}]),
        "interfaces": [eth0("198.51.100.2")],
        "policy": policy or {"loaded": None},
        "probes": probes,
    }


def test_internet_zone_without_approvals_fails():
    verdict = ni.evaluate(settings(zone="internet"), internet_observations(all_probes(True)))
    assert verdict["status"] == "fail"
    assert verdict["problems"][0].startswith("no approved Internet destinations are recorded")
    assert verdict["routes_to_remove"] == [] and verdict["units_to_disable"] == []


def test_internet_zone_enforced_policy_passes():
    s = settings(zone="internet", approved_destinations=[APPROVED_HTTP], policy_expected=True)
    probes = [probe("tcp", True), probe("http", True), probe("dns", False, port=53, protocol="udp")]
    verdict = ni.evaluate(s, internet_observations(probes, good_policy()))
    assert verdict["status"] == "pass", verdict["problems"]
    assert probes[2]["approved"] is False and probes[0]["approved"] is True


def test_internet_zone_unapproved_answer_fails():
    s = settings(zone="internet", approved_destinations=[APPROVED_HTTP], policy_expected=True)
    verdict = ni.evaluate(s, internet_observations(all_probes(True), good_policy()))
    assert verdict["status"] == "fail"
    assert verdict["problems"] == [
        "DNS 198.51.100.80:53: answered (connected, 1 ms) — not an approved destination"
    ]


def test_internet_zone_restricted_upstream_passes():
    s = settings(zone="internet", approved_destinations=[APPROVED_HTTP])
    probes = [probe("tcp", True), probe("http", True), probe("dns", False, port=53, protocol="udp")]
    verdict = ni.evaluate(s, internet_observations(probes))
    assert verdict["status"] == "pass"
    assert any("egress is restricted upstream" in g for g in verdict["good"])


# --------------------------------------------------------------------------- probes against loopback servers


class _Page(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"canary")

    def log_message(self, *args):
        pass


class _Dns(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data[:2] + b"\x81\x83" + data[4:], self.client_address)  # NXDOMAIN


@pytest.fixture
def loopback_canary():
    http = HTTPServer(("127.0.0.1", 0), _Page)
    dns = socketserver.UDPServer(("127.0.0.1", 0), _Dns)
    for server in (http, dns):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield http.server_address[1], dns.server_address[1]
    for server in (http, dns):
        server.shutdown()
        server.server_close()


def loopback_settings(**canary):
    raw = {
        **RAW,
        "intranet_cidrs": ["10.77.10.0/24"],
        "timeout": 0.5,
        "canaries": [{"address": "127.0.0.1", **canary}],
    }
    result, errors = ni.normalize_settings(raw)
    assert errors == []
    return result


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_probes_that_get_answers(loopback_canary):
    http_port, dns_port = loopback_canary
    s = loopback_settings(
        tcp_port=http_port,
        http_url=f"http://127.0.0.1:{http_port}/",
        dns_server="127.0.0.1",
        dns_port=dns_port,
        dns_name="canary.example.com",
    )
    results = {r["kind"]: r for r in ni.run_probes(s)}
    assert results["tcp"]["reachable"] and results["tcp"]["detail"] == "connected"
    assert results["http"]["reachable"] and results["http"]["detail"].startswith("HTTP/1.0 200")
    assert results["dns"]["reachable"] and results["dns"]["detail"] == "DNS NXDOMAIN, 0 answers"


def test_probes_without_answers():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    try:
        s = loopback_settings(
            tcp_port=free_port(),
            dns_server="127.0.0.1",
            dns_port=silent.getsockname()[1],
            dns_name="x.example",
        )
        results = {r["kind"]: r for r in ni.run_probes(s)}
    finally:
        silent.close()
    # A refusal proves the address answered: conservative for an isolation audit.
    assert results["tcp"]["reachable"] and "refused" in results["tcp"]["detail"]
    assert not results["dns"]["reachable"] and results["dns"]["detail"] == "timed out"
    assert results["dns"]["ms"] < 2000


def test_helper_runs_as_a_script_and_reports_settings_errors():
    """The role sends the file to `python3 -`; bad settings come back as JSON, not a traceback."""
    done = subprocess.run(
        [sys.executable, "-", json.dumps({**RAW, "canaries": []})],
        input=HELPER.read_text(),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    output = json.loads(done.stdout)
    assert output["settings_errors"][0].startswith("network_isolation_canaries is empty")
    assert done.stderr == ""
