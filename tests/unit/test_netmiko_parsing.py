"""plugins/module_utils/netmiko_device.py: pure parsers of IOS output and the operator messages."""

import importlib.util
import socket
from pathlib import Path

import pytest
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "netmiko_device", ROOT / "plugins" / "module_utils" / "netmiko_device.py"
)
nd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nd)

RUNNING_CONFIG = """\
Building configuration...

Current configuration : 1210 bytes
!
version 15.2
no service pad
service password-encryption
!
hostname ward3-sw-02
!
vlan 20
 name INPATIENT
!
interface GigabitEthernet1/0/1
 description Nurse station PC 3-01
 switchport access vlan 20
 switchport mode access
 spanning-tree portfast
!
interface GigabitEthernet1/0/2
 switchport mode access
 shutdown
!
interface GigabitEthernet1/0/3
!
interface TenGigabitEthernet1/0/1
 description UPLINK-PRIMARY fiber to core-sw-01 Gi1/1/1
 switchport trunk allowed vlan 10,20
 switchport trunk allowed vlan add 99
 switchport mode trunk
 no shutdown
!
interface TenGigabitEthernet1/0/2
 description UPLINK-BACKUP fiber to core-sw-02
 switchport mode trunk
 shutdown
!
interface GigabitEthernet0/0
 no switchport
 ip address 192.0.2.10 255.255.255.0
!
interface Vlan99
 description MGMT
 ip address 10.99.0.21 255.255.255.0 secondary
 ip address 10.99.0.20 255.255.255.0
!
ip default-gateway 10.99.0.1
banner motd ^C
% Error messages from the past are not errors today
^C
!
line vty 0 4
 transport input ssh
!
end
"""

# `show vlan` as a real Catalyst 2960X prints it (wrapped ports, act/unsup VLANs, second table).
SHOW_VLAN = """\

VLAN Name                             Status    Ports
---- -------------------------------- --------- -------------------------------
1    default                          active    Gi1/0/3, Gi1/0/4, Gi1/0/5
                                                Gi1/0/6
20   INPATIENT                        active    Gi1/0/1
99   MGMT                             active
1002 fddi-default                     act/unsup

VLAN Type  SAID       MTU   Parent RingNo BridgeNo Stp  BrdgMode Trans1 Trans2
---- ----- ---------- ----- ------ ------ -------- ---- -------- ------ ------
1    enet  100001     1500  -      -      -        -    -        0      0
20   enet  100020     1500  -      -      -        -    -        0      0
"""

SHOW_VERSION_2960X = """\
Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E8, RELEASE SOFTWARE (fc2)
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2023 by Cisco Systems, Inc.
Compiled Mon 13-Mar-23 04:35 by mcpre

ROM: Bootstrap program is C2960X boot loader
BOOTLDR: C2960X Boot Loader (C2960X-HBOOT-M) Version 15.2(7r)E, RELEASE SOFTWARE (fc1)

ward3-sw-02 uptime is 1 year, 2 weeks, 3 days, 4 hours, 5 minutes
System returned to ROM by power-on
System image file is "flash:/c2960x-universalk9-mz.152-7.E8/c2960x-universalk9-mz.152-7.E8.bin"

cisco WS-C2960X-24TD-L (APM86XXX) processor (revision D0) with 524288K bytes of memory.
Processor board ID FOC2145X0GH
Last reset from power-on
1 Virtual Ethernet interface
24 Gigabit Ethernet interfaces
2 Ten Gigabit Ethernet interfaces

Model number                    : WS-C2960X-24TD-L
System serial number            : FOC2145X0GH

Configuration register is 0xF
"""

# A router's `show version` without the "Model number" / "System serial number" block.
SHOW_VERSION_ROUTER = """\
Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M8, RELEASE SOFTWARE (fc2)
dc-rtr-01 uptime is 12 weeks, 1 day, 2 hours, 7 minutes
System image file is "flash0:c2900-universalk9-mz.SPA.157-3.M8.bin"
Cisco CISCO2911/K9 (revision 1.0) with 483328K/40960K bytes of memory.
Processor board ID FTX1840ALBA
"""


# ----------------------------------------------------------------------------- running-config
def test_running_config_hostname_and_interfaces():
    parsed = nd.parse_running_config(RUNNING_CONFIG)
    assert parsed["hostname"] == "ward3-sw-02"
    assert list(parsed["interfaces"]) == [
        "GigabitEthernet1/0/1",
        "GigabitEthernet1/0/2",
        "GigabitEthernet1/0/3",
        "TenGigabitEthernet1/0/1",
        "TenGigabitEthernet1/0/2",
        "GigabitEthernet0/0",
        "Vlan99",
    ]


def test_running_config_access_port():
    port = nd.parse_running_config(RUNNING_CONFIG)["interfaces"]["GigabitEthernet1/0/1"]
    assert port == {
        "description": "Nurse station PC 3-01",
        "shutdown": False,
        "mode": "access",
        "vlan": 20,
        "trunk_vlans": None,
        "ip": None,
        "ips": [],
    }


def test_running_config_access_port_without_vlan_is_in_vlan_1_and_shutdown():
    port = nd.parse_running_config(RUNNING_CONFIG)["interfaces"]["GigabitEthernet1/0/2"]
    assert (port["mode"], port["vlan"], port["shutdown"]) == ("access", 1, True)


def test_running_config_bare_interface_has_defaults():
    port = nd.parse_running_config(RUNNING_CONFIG)["interfaces"]["GigabitEthernet1/0/3"]
    assert (port["description"], port["shutdown"], port["mode"], port["vlan"]) == (None, False, None, None)


def test_running_config_trunk_uplinks():
    interfaces = nd.parse_running_config(RUNNING_CONFIG)["interfaces"]
    primary, backup = interfaces["TenGigabitEthernet1/0/1"], interfaces["TenGigabitEthernet1/0/2"]
    assert (primary["mode"], primary["shutdown"], primary["trunk_vlans"]) == ("trunk", False, "10,20,99")
    assert (backup["mode"], backup["shutdown"], backup["description"]) == (
        "trunk",
        True,
        "UPLINK-BACKUP fiber to core-sw-02",
    )


def test_running_config_addresses():
    interfaces = nd.parse_running_config(RUNNING_CONFIG)["interfaces"]
    assert interfaces["GigabitEthernet0/0"]["mode"] == "routed"
    assert interfaces["GigabitEthernet0/0"]["ip"] == "192.0.2.10/24"
    assert interfaces["Vlan99"]["ip"] == "10.99.0.20/24"
    assert interfaces["Vlan99"]["ips"] == ["10.99.0.20/24", "10.99.0.21/24"]


def test_running_config_global_lines_end_an_interface_block():
    # "ip default-gateway" and the banner must not land in Vlan99.
    vlan99 = nd.parse_running_config(RUNNING_CONFIG)["interfaces"]["Vlan99"]
    assert vlan99["description"] == "MGMT"


def test_running_config_empty():
    assert nd.parse_running_config("") == {"hostname": None, "interfaces": {}}
    assert nd.parse_running_config(None) == {"hostname": None, "interfaces": {}}


# ----------------------------------------------------------------------------- show vlan
def test_show_vlan():
    vlans = nd.parse_show_vlan(SHOW_VLAN)
    assert sorted(vlans) == [1, 20, 99, 1002]
    assert vlans[1] == {
        "name": "default",
        "status": "active",
        "ports": [
            "GigabitEthernet1/0/3",
            "GigabitEthernet1/0/4",
            "GigabitEthernet1/0/5",
            "GigabitEthernet1/0/6",
        ],
    }
    assert vlans[20]["ports"] == ["GigabitEthernet1/0/1"]
    assert vlans[99] == {"name": "MGMT", "status": "active", "ports": []}
    assert vlans[1002]["status"] == "act/unsup"


def test_show_vlan_ignores_the_type_table_and_empty_input():
    assert 100001 not in nd.parse_show_vlan(SHOW_VLAN)
    assert nd.parse_show_vlan("") == {}
    assert nd.parse_show_vlan("% Invalid input detected at '^' marker.") == {}


# ----------------------------------------------------------------------------- show version
def test_show_version_switch():
    assert nd.parse_show_version(SHOW_VERSION_2960X) == {
        "version": "15.2(7)E8",
        "model": "WS-C2960X-24TD-L",
        "serial": "FOC2145X0GH",
        "hostname": "ward3-sw-02",
        "image": "flash:/c2960x-universalk9-mz.152-7.E8/c2960x-universalk9-mz.152-7.E8.bin",
        "uptime": "1 year, 2 weeks, 3 days, 4 hours, 5 minutes",
    }


def test_show_version_without_model_number_block():
    parsed = nd.parse_show_version(SHOW_VERSION_ROUTER)
    assert (parsed["version"], parsed["model"], parsed["serial"], parsed["hostname"]) == (
        "15.7(3)M8",
        "CISCO2911/K9",
        "FTX1840ALBA",
        "dc-rtr-01",
    )


def test_show_version_missing_fields_are_none():
    assert set(nd.parse_show_version("").values()) == {None}


# ----------------------------------------------------------------------------- names and uplinks
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Gi1/0/1", "GigabitEthernet1/0/1"),
        ("gi1/0/1", "GigabitEthernet1/0/1"),
        ("GigabitEthernet1/0/1", "GigabitEthernet1/0/1"),
        ("Te1/1/2", "TenGigabitEthernet1/1/2"),
        ("ten1/1/2", "TenGigabitEthernet1/1/2"),
        ("Vl99", "Vlan99"),
        ("Po1", "Port-channel1"),
        ("Loopback0", "Loopback0"),
    ],
)
def test_canonical_interface(name, expected):
    assert nd.canonical_interface(name) == expected


def test_uplink_state():
    interfaces = nd.parse_running_config(RUNNING_CONFIG)["interfaces"]
    uplinks = nd.uplink_state(interfaces, primary="Te1/0/1", backup="TenGigabitEthernet1/0/2")
    assert uplinks["primary"] == {
        "port": "TenGigabitEthernet1/0/1",
        "present": True,
        "shutdown": False,
        "description": "UPLINK-PRIMARY fiber to core-sw-01 Gi1/1/1",
    }
    assert (uplinks["backup"]["port"], uplinks["backup"]["shutdown"]) == ("TenGigabitEthernet1/0/2", True)


def test_uplink_state_missing_port_and_role():
    uplinks = nd.uplink_state({}, primary="Te9/9/9")
    assert uplinks == {
        "primary": {
            "port": "TenGigabitEthernet9/9/9",
            "present": False,
            "shutdown": None,
            "description": None,
        }
    }
    assert nd.uplink_state({}) == {}


# ----------------------------------------------------------------------------- device errors
CONFIG_TRANSCRIPT = """\
configure terminal
Enter configuration commands, one per line.  End with CNTL/Z.
core-sw-01(config)#interface TenGigabitEthernet1/1/2
core-sw-01(config-if)#description UPLINK-BACKUP active
core-sw-01(config-if)#no shutdown
                       ^
% Invalid input detected at '^' marker.

core-sw-01(config-if)#end
core-sw-01#"""


def test_refused_commands_names_the_command():
    assert nd.refused_commands(CONFIG_TRANSCRIPT) == [
        ("no shutdown", "% Invalid input detected at '^' marker.")
    ]


def test_refused_commands_none_when_all_accepted():
    assert nd.refused_commands(CONFIG_TRANSCRIPT.replace("% Invalid input detected at '^' marker.", "")) == []


def test_device_errors_head_ignores_errors_deep_in_output():
    assert nd.device_errors(RUNNING_CONFIG) == ["% Error messages from the past are not errors today"]
    assert nd.device_errors(RUNNING_CONFIG, head=3) == []
    assert nd.device_errors("% Invalid input detected at '^' marker.\n", head=3) == [
        "% Invalid input detected at '^' marker."
    ]
    assert nd.device_errors("No such command : show bogus") == ["No such command : show bogus"]


# ----------------------------------------------------------------------------- connection params
def test_connection_params_strict_host_keys_with_known_hosts():
    params = nd.connection_params("127.0.0.1", "2221", "u", "p", "s", timeout=7, known_hosts="/x/known_hosts")
    assert params["device_type"] == "cisco_ios"
    assert params["port"] == 2221
    assert (params["conn_timeout"], params["read_timeout_override"]) == (7, 7)
    assert (params["ssh_strict"], params["alt_host_keys"], params["alt_key_file"]) == (
        True,
        True,
        "/x/known_hosts",
    )
    assert params["system_host_keys"] is False


def test_connection_params_without_known_hosts_and_secret():
    params = nd.connection_params("sw", 22, "u", "p", None)
    assert params["ssh_strict"] is False
    assert params["secret"] == ""
    assert "alt_key_file" not in params


# ----------------------------------------------------------------------------- messages
@pytest.mark.parametrize(
    ("err", "stage", "expected"),
    [
        (
            NetmikoAuthenticationException("Authentication to device failed."),
            "connect",
            "SSH login to h:2221 was refused",
        ),
        (
            NetmikoTimeoutException("TCP connection to device failed.\n\nCommon causes"),
            "connect",
            "cannot open a TCP connection to h:2221",
        ),
        (
            NetmikoTimeoutException(
                "A paramiko SSHException occurred during connection creation:\n\n"
                "Server '[h]:2221' not found in known_hosts"
            ),
            "connect",
            "the SSH host key of h:2221 is not in /kh",
        ),
        (
            NetmikoTimeoutException(
                "Host key for server '[h]:2221' does not match: got 'AAA', expected 'BBB'"
            ),
            "connect",
            "the SSH host key of h:2221 does not match /kh",
        ),
        (
            NetmikoTimeoutException("Error reading SSH protocol banner"),
            "connect",
            "accepted TCP but did not speak SSH",
        ),
        (
            ValueError("Failed to enter enable mode. Please ensure you pass the 'secret' argument"),
            "enable",
            "enable on h:2221 was refused: check the enable secret",
        ),
        (ReadTimeout("Pattern not detected"), "show", "h:2221 did not answer `show version` within 30 s"),
        (
            ConnectionRefusedError(111, "Connection refused"),
            "connect",
            "cannot open a TCP connection to h:2221",
        ),
        (socket.gaierror(-2, "Name or service not known"), "connect", "cannot resolve the address of h:2221"),
        (RuntimeError("boom"), "save", "save failed on h:2221: RuntimeError: boom"),
    ],
)
def test_explain(err, stage, expected):
    message = nd.explain(err, "h", 2221, stage, known_hosts="/kh", command="show version")
    assert message.startswith(expected) or expected in message
