"""plugins/module_utils/ip_register.py: register entries, the host check (P1.4.10), the sweep's networks and
findings (P1.3.5); roles/ip_register/files/scan-intranet.py against loopback."""

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("ip_register", ROOT / "plugins/module_utils/ip_register.py")
ipr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ipr)
SCANNER = ROOT / "roles/ip_register/files/scan-intranet.py"

FACTS = {
    "interfaces": ["lo", "eth0", "docker0"],
    "lo": {"ipv4": {"address": "127.0.0.1"}, "macaddress": "00:00:00:00:00:00"},
    "eth0": {
        "ipv4": {"address": "10.77.10.21"},
        "ipv4_secondaries": [{"address": "10.77.10.121"}],
        "macaddress": "02:4c:0a:4d:0a:15",
    },
    "docker0": {"ipv4": {"address": "172.17.0.1"}, "macaddress": "02:42:00:00:00:01"},
}


def check(register, facts=FACTS, ignore=("lo", "docker*")):
    entries = ipr.register_entries(register, "hisguard_interfaces")
    return ipr.check_host(entries, ipr.observed_interfaces(facts, ignore))


def test_register_entries_normalise_and_reject():
    assert ipr.register_entries(
        [{"address": "10.77.10.21", "mac": "02-4C-0A-4D-0A-15"}, "10.77.10.1"], "x"
    ) == [
        {"address": "10.77.10.21", "mac": "02:4c:0a:4d:0a:15", "name": None},
        {"address": "10.77.10.1", "mac": None, "name": None},
    ]
    with pytest.raises(ipr.RegisterError, match=r"x\[0\]: 'ws-01' is not an IP address"):
        ipr.register_entries([{"address": "ws-01"}], "x")
    with pytest.raises(ipr.RegisterError, match="is not a MAC address"):
        ipr.register_entries([{"address": "10.0.0.1", "mac": "02:4c"}], "x")
    with pytest.raises(ipr.RegisterError, match="must be a list"):
        ipr.register_entries({"address": "10.0.0.1"}, "x")


def test_observed_interfaces_skip_loopback_and_ignored():
    assert ipr.observed_interfaces(FACTS, ("lo", "docker*")) == [
        {"interface": "eth0", "address": "10.77.10.21", "mac": "02:4c:0a:4d:0a:15"},
        {"interface": "eth0", "address": "10.77.10.121", "mac": "02:4c:0a:4d:0a:15"},
    ]


def test_host_matching_the_register_passes():
    found = check(
        [
            {"address": "10.77.10.21", "mac": "02:4c:0a:4d:0a:15"},
            {"address": "10.77.10.121", "mac": "02:4c:0a:4d:0a:15"},
        ]
    )
    assert found["problems"] == []
    assert found["matched"][0] == "10.77.10.21 on eth0 (02:4c:0a:4d:0a:15)"


def test_host_differences_fail():
    found = check([{"address": "10.77.10.21", "mac": "02:4c:0a:4d:0a:99"}, {"address": "10.77.10.30"}])
    assert found["problems"] == [
        "10.77.10.21 is on eth0 with MAC 02:4c:0a:4d:0a:15, the register says 02:4c:0a:4d:0a:99",
        "registered address 10.77.10.30 is not configured on the host",
        "eth0 has address 10.77.10.121 (02:4c:0a:4d:0a:15) that is not in the register",
    ]
    assert check([])["problems"][0].startswith("the host has no entry in the IP register")


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        (["10.77.11.0/24"], "not inside the intranet networks"),
        (["10.77.10.0/16"], "not a network"),
        (["10.0.0.0/8"], "not inside the intranet networks"),
        (["198.51.100.0/24"], "not inside the intranet networks"),
        ([], "no network to sweep"),
    ],
)
def test_sweep_stays_inside_the_intranet(networks, message):
    with pytest.raises(ipr.RegisterError, match=message):
        ipr.scan_networks(networks, ["10.77.10.0/24"])


def test_sweep_refuses_large_networks_unless_allowed():
    with pytest.raises(ipr.RegisterError, match="larger than /22"):
        ipr.scan_networks(["10.77.0.0/21"], ["10.77.0.0/16"])
    assert ipr.scan_networks(["10.77.0.0/21"], ["10.77.0.0/16"], max_prefix=21) == ["10.77.0.0/21"]
    assert ipr.scan_networks(["10.77.10.0/25"], ["10.77.10.0/24"]) == ["10.77.10.0/25"]
    with pytest.raises(ipr.RegisterError, match="hisguard_intranet_cidrs is empty"):
        ipr.scan_networks(["10.77.10.0/24"], [])


def test_scan_findings():
    registered = {
        "ws-01": ipr.register_entries([{"address": "10.77.10.21", "mac": "02:4c:0a:4d:0a:15"}], "x"),
        "ws-02": ipr.register_entries([{"address": "10.77.10.22", "mac": "02:4c:0a:4d:0a:16"}], "x"),
    }
    infrastructure = ipr.register_entries([{"address": "10.77.10.1", "name": "gateway"}], "x")
    seen = [
        {"address": "10.77.10.1", "mac": "26:aa:0f:06:88:86"},
        {"address": "10.77.10.21", "mac": "02:4c:0a:4d:0a:15"},
        {"address": "10.77.10.22", "mac": "02:4c:0a:4d:0a:99"},
        {"address": "10.77.10.99", "mac": "1e:64:9c:1f:0a:4c"},
        {"address": "10.77.10.50", "mac": "02:4c:0a:4d:0a:15"},
    ]
    found = ipr.check_scan(seen, registered, infrastructure)
    assert found["known"] == 2
    assert found["mac_mismatch"] == [
        {
            "address": "10.77.10.22",
            "mac": "02:4c:0a:4d:0a:99",
            "expected": "02:4c:0a:4d:0a:16",
            "owner": "ws-02",
        }
    ]
    assert found["unknown"] == [
        {"address": "10.77.10.99", "mac": "1e:64:9c:1f:0a:4c", "mac_registered_to": None},
        {"address": "10.77.10.50", "mac": "02:4c:0a:4d:0a:15", "mac_registered_to": "ws-01"},
    ]


def test_scanner_sees_a_listening_loopback_address():
    with socket.socket() as server:
        server.bind(("127.0.0.2", 0))
        server.listen()
        port = server.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(SCANNER), "--port", str(port), "--timeout", "0.5", "127.0.0.0/30"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    report = json.loads(done.stdout)
    assert report["scanned"] == 2
    assert {"address": "127.0.0.2", "mac": None} in report["seen"]


def test_scanner_refuses_more_than_1024_addresses():
    done = subprocess.run(
        [sys.executable, str(SCANNER), "127.0.0.0/21"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "refusing to scan 2046 addresses" in done.stderr


def test_checked_networks_give_the_reason_instead_of_raising():
    assert ipr.checked_networks(["10.77.10.0/24"], ["10.77.10.0/24"]) == {
        "networks": ["10.77.10.0/24"],
        "error": None,
    }
    refused = ipr.checked_networks(["192.0.2.0/24"], ["10.77.10.0/24"])
    assert refused["networks"] == [] and "refusing to sweep it" in refused["error"]
