# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Network isolation, the logic of the network_isolation role: P1.3.9 (intranet computers never reach
the Internet) and P1.4.6 (Internet access only to destinations opened on approval).

Two parts in one file:
- pure functions over plain data: the role's settings, the JSON of `ip -j route/addr`, sysfs
  attributes, systemd unit text, /proc/net/tcp, the JSON of `nft -j list table`, probe outcomes.
  They decide what passes and what fails; tests/unit/test_network_isolation.py covers them.
- main(): reads the managed host and probes the inventory's canaries. The role sends this file to
  `python3 -` on the host's standard input with one JSON argument (the settings) and reads one JSON
  document from standard output. It only reads: no file, route, rule or service is changed.

Standard library only, Python 3.8 or later (the managed hosts' python3). Network safety: probes go
only to the canary addresses the inventory names, by IP address (no name is ever resolved through the
host's resolver), each with a short timeout.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import glob
import hashlib
import ipaddress
import json
import os
import random
import re
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

ZONES = ("intranet", "internet")
PROTOCOLS = ("tcp", "udp", "any")
TABLE = "hisguard_egress"
POLICY_COMMENT_RE = re.compile(r"hisguard-egress policy ([0-9a-f]{8,64})")

# Routes that carry no traffic off the host, or only on the local link.
IGNORED_ROUTE_TYPES = frozenset(
    {"local", "broadcast", "multicast", "anycast", "unreachable", "blackhole", "prohibit", "throw", "nat"}
)
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))

# Drivers of USB modems and phone/USB tethering (a 4G dongle, a phone shared over USB).
MOBILE_DRIVERS = frozenset(
    {
        "rndis_host",
        "cdc_ether",
        "cdc_ncm",
        "cdc_mbim",
        "qmi_wwan",
        "huawei_cdc_ncm",
        "ipheth",
        "sierra_net",
        "cdc_subset",
        "usbnet",
    }
)
SUSPECT_NAME_PATTERNS = ("wl*", "ww*", "ppp*", "usb*", "rndis*")
ARPHRD_PPP = 512

# Network configuration that can re-add a route at boot: searched for the offending gateway, and only
# the paths of matching files are reported (NetworkManager connection files hold Wi-Fi keys).
NETWORK_CONFIG_GLOBS = (
    "/etc/network/interfaces",
    "/etc/network/interfaces.d/*",
    "/etc/systemd/network/*.network",
    "/etc/NetworkManager/system-connections/*",
    "/etc/netplan/*.yaml",
    "/etc/sysconfig/network-scripts/ifcfg-*",
    "/etc/sysconfig/network-scripts/route-*",
    "/etc/rc.local",
)
UNIT_DIRS = ("/etc/systemd/system", "/usr/local/lib/systemd/system")


# --------------------------------------------------------------------------- settings


def _network(value, what: str, errors: list[str]):
    """An address or CIDR as an ip_network; host bits must be zero (10.77.10.0/24, not 10.77.10.5/24)."""
    text = str(value).strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            errors.append(f"{what}: {text!r} is not an IP address or CIDR (for example 10.77.10.0/24)")
            return None
        errors.append(f"{what}: {text} has host bits set; write the network as {loose}")
        return None


def _address(value, what: str, errors: list[str]):
    text = str(value).strip()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        errors.append(f"{what}: {text!r} is not an IP address (names are never resolved: use the address)")
        return None


def _port(value, what: str, errors: list[str]):
    if isinstance(value, bool):
        errors.append(f"{what}: {value!r} is not a port number")
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        errors.append(f"{what}: {value!r} is not a port number")
        return None
    if not 1 <= port <= 65535:
        errors.append(f"{what}: {port} is not a port number (1-65535)")
        return None
    return port


def _split_url(url: str, what: str, errors: list[str]):
    """(scheme, address, port, path, host header) of an http(s) URL whose host is an IP literal."""
    match = re.match(r"^(https?)://(\[[0-9A-Fa-f:.]+\]|[^/:?#\[\]]+)(?::(\d+))?([/?][^#]*)?(#.*)?$", url)
    if not match:
        errors.append(f"{what}: {url!r} is not an http:// or https:// URL")
        return None
    scheme, host, port, path = match.group(1), match.group(2), match.group(3), match.group(4) or "/"
    literal = host[1:-1] if host.startswith("[") else host
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        errors.append(
            f"{what}: {url} names the host {host!r}; use the canary's IP address in the URL "
            "(the probe never resolves names, so it cannot query a resolver outside the lab)"
        )
        return None
    port_number = _port(port, what, errors) if port else (443 if scheme == "https" else 80)
    if port_number is None:
        return None
    return scheme, address, port_number, path, host


def normalize_settings(raw: dict) -> tuple[dict, list[str]]:
    """Check and normalize the role's settings; returns (settings, errors naming what to fix)."""
    errors: list[str] = []
    zone = raw.get("zone", "intranet")
    if zone not in ZONES:
        errors.append(f"network_isolation_zone: {zone!r} is neither 'intranet' nor 'internet'")

    def networks(key: str, var: str) -> list:
        values = raw.get(key) or []
        if not isinstance(values, list):
            errors.append(f"{var}: expected a list, got {values!r}")
            return []
        found = [_network(v, var, errors) for v in values]
        return [n for n in found if n is not None]

    intranet = networks("intranet_cidrs", "network_isolation_intranet_cidrs")
    if zone == "intranet" and not raw.get("intranet_cidrs"):
        errors.append(
            "network_isolation_intranet_cidrs is empty: set hisguard_intranet_cidrs in the inventory to the "
            "intranet's networks (for example [10.77.10.0/24]); without them every route looks external"
        )
    mirrors = networks("mirror_addresses", "network_isolation_mirror_addresses")
    management = networks("management_addresses", "network_isolation_management_addresses")
    gateways = [
        a
        for a in (
            _address(v, "network_isolation_allowed_gateways", errors)
            for v in raw.get("allowed_gateways") or []
        )
        if a is not None
    ]

    approved = []
    for index, entry in enumerate(raw.get("approved_destinations") or []):
        what = f"network_isolation_internet_allowed_destinations[{index}]"
        if not isinstance(entry, dict):
            errors.append(
                f"{what}: expected a mapping with destination, protocol, ports, description, ticket"
            )
            continue
        network = _network(entry.get("destination", ""), what + ".destination", errors)
        protocol = str(entry.get("protocol") or "any").lower()
        if protocol not in PROTOCOLS:
            errors.append(f"{what}.protocol: {protocol!r} is not one of tcp, udp, any")
        ports = [_port(p, what + ".ports", errors) for p in entry.get("ports") or []]
        if ports and protocol == "any":
            errors.append(f"{what}: ports need protocol tcp or udp")
        for key in ("description", "ticket"):
            if not str(entry.get(key) or "").strip():
                errors.append(f"{what}.{key} is missing: every opened destination records its approval")
        if network is not None and None not in ports:
            approved.append(
                {
                    "network": network,
                    "protocol": protocol,
                    "ports": sorted(set(ports)),
                    "description": str(entry.get("description") or ""),
                    "ticket": str(entry.get("ticket") or ""),
                }
            )

    canaries = []
    raw_canaries = raw.get("canaries") or []
    if not raw_canaries:
        errors.append(
            "network_isolation_canaries is empty: set hisguard_internet_canaries in the inventory to at "
            "least one address on the Internet side (with tcp_port, http_url and/or dns_server + "
            "dns_name); the role never invents probe targets"
        )
    for index, entry in enumerate(raw_canaries):
        what = f"network_isolation_canaries[{index}]"
        if not isinstance(entry, dict):
            errors.append(
                f"{what}: expected a mapping with address, tcp_port, http_url, dns_server, dns_name"
            )
            continue
        address = _address(entry.get("address", ""), what + ".address", errors)
        canary = {"address": address, "tcp_port": None, "http": None, "dns": None}
        if entry.get("tcp_port") not in (None, ""):
            canary["tcp_port"] = _port(entry["tcp_port"], what + ".tcp_port", errors)
        if entry.get("http_url"):
            canary["http"] = _split_url(str(entry["http_url"]), what + ".http_url", errors)
        if entry.get("dns_server"):
            server = _address(entry["dns_server"], what + ".dns_server", errors)
            name = str(entry.get("dns_name") or "").strip().rstrip(".")
            labels = name.split(".") if name else []
            if not labels or not all(re.match(r"^[A-Za-z0-9_-]{1,63}$", label) for label in labels):
                errors.append(
                    f"{what}.dns_name: {name!r} is not a DNS name to query (for example canary.example.com)"
                )
            port = _port(entry.get("dns_port", 53), what + ".dns_port", errors)
            canary["dns"] = (server, port, name)
        if not (entry.get("tcp_port") or entry.get("http_url") or entry.get("dns_server")):
            errors.append(f"{what}: give at least one of tcp_port, http_url, dns_server to probe")
        for target in _canary_addresses(canary):
            inside = [str(n) for n in intranet if target.version == n.version and target in n]
            if inside:
                errors.append(
                    f"{what}: {target} is inside the intranet ({', '.join(inside)}); a canary must be an "
                    "address on the Internet side"
                )
        canaries.append(canary)

    try:
        timeout = float(raw.get("timeout", 2))
    except (TypeError, ValueError):
        timeout = -1.0
    if not 0 < timeout <= 10:
        errors.append(
            f"network_isolation_probe_timeout: {raw.get('timeout')!r} is not a number of seconds (0-10]"
        )

    settings = {
        "zone": zone,
        "mode": raw.get("mode", "audit"),
        "intranet": intranet,
        "mirrors": mirrors,
        "management": management,
        "allowed_gateways": gateways,
        "allowed_interfaces": [str(p) for p in raw.get("allowed_interfaces") or []],
        "approved": approved,
        "canaries": canaries,
        "timeout": timeout,
        "ssh_port": int(raw.get("ssh_port") or 22),
        "table": str(raw.get("table") or TABLE),
        "policy_file": str(raw.get("policy_file") or "/etc/nftables.d/hisguard-egress.nft"),
        "nftables_conf": str(raw.get("nftables_conf") or "/etc/nftables.conf"),
        "policy_id": str(raw.get("policy_id") or ""),
        "policy_file_sha256": str(raw.get("policy_file_sha256") or ""),
        "policy_expected": _flag(raw.get("policy_expected")),
        "probe": _flag(raw.get("probe", True)),
    }
    return settings, errors


def _flag(value) -> bool:
    """A boolean from JSON or from a templated string ("True", "false", "yes")."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _canary_addresses(canary: dict) -> list:
    found = [canary.get("address")]
    if canary.get("http"):
        found.append(canary["http"][1])
    if canary.get("dns"):
        found.append(canary["dns"][0])
    unique = []
    for address in found:
        if address is not None and address not in unique:
            unique.append(address)
    return unique


def allowed_networks(settings: dict) -> list:
    """Destinations the egress policy lets through for every protocol: intranet, mirror, management."""
    return list(settings["intranet"]) + list(settings["mirrors"]) + list(settings["management"])


def collapse(networks) -> list[str]:
    """Canonical form of a set of networks: merged, sorted, IPv4 first."""
    result = []
    for version in (4, 6):
        same = [n for n in networks if n.version == version]
        result += [str(n) for n in ipaddress.collapse_addresses(same)]
    return result


def expected_sets(settings: dict) -> dict:
    nets = allowed_networks(settings)
    return {
        "allowed_v4": collapse([n for n in nets if n.version == 4]),
        "allowed_v6": collapse([n for n in nets if n.version == 6]),
    }


def covered(network, networks) -> bool:
    """Whether an address or network lies wholly inside one of the networks."""
    if not isinstance(network, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        network = ipaddress.ip_network(network)
    return any(network.version == n.version and network.subnet_of(n) for n in networks)


def is_approved(settings: dict, address, protocol: str, port: int | None) -> bool:
    """Whether the Internet-zone approvals open (address, protocol, port)."""
    address = ipaddress.ip_address(address)
    for entry in settings["approved"]:
        network = entry["network"]
        if address.version != network.version or address not in network:
            continue
        if entry["protocol"] not in ("any", protocol):
            continue
        if entry["ports"] and port not in entry["ports"]:
            continue
        return True
    return covered(ipaddress.ip_network(address), allowed_networks(settings))


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


# --------------------------------------------------------------------------- routes


def parse_routes(entries: list, family: int) -> list[dict]:
    """Routes from `ip -j -4|-6 route show table all`, one dict each."""
    routes = []
    for entry in entries or []:
        dst = entry.get("dst", "default")
        try:
            network = (
                ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
                if dst == "default"
                else ipaddress.ip_network(dst, strict=False)
            )
        except ValueError:
            continue
        hops = entry.get("nexthops") or [entry]
        gateways, devs = [], []
        for hop in hops:
            gateway = hop.get("gateway") or (hop.get("via") or {}).get("host")
            if gateway and gateway not in gateways:
                gateways.append(gateway)
            if hop.get("dev") and hop["dev"] not in devs:
                devs.append(hop["dev"])
        routes.append(
            {
                "family": family,
                "dst": "default" if dst == "default" else str(network),
                "network": network,
                "gateways": gateways,
                "devs": devs,
                "table": str(entry.get("table", "main")),
                "type": entry.get("type", "unicast"),
                "protocol": entry.get("protocol", ""),
                "metric": entry.get("metric"),
                "multipath": bool(entry.get("nexthops")),
            }
        )
    return routes


def format_route(route: dict) -> str:
    text = route["dst"]
    if route["gateways"]:
        text += " via " + ", ".join(route["gateways"])
    if route["devs"]:
        text += " dev " + ", ".join(route["devs"])
    if route["table"] != "main":
        text += " table " + route["table"]
    if route.get("metric") is not None:
        text += f" metric {route['metric']}"
    return text


def classify_route(route: dict, settings: dict) -> tuple[str, str]:
    """(verdict, reason): verdict is ignored | intranet | exempt | approved_gateway | problem."""
    network = route["network"]
    if route["type"] in IGNORED_ROUTE_TYPES or route["table"] == "local":
        return "ignored", f"{route['type']} route"
    if network.prefixlen and (network.is_multicast or any(covered(network, [n]) for n in LINK_LOCAL)):
        return "ignored", "link-local or multicast"
    if route["devs"] and all(_matches(dev, settings["allowed_interfaces"]) for dev in route["devs"]):
        return "exempt", "interface listed in network_isolation_allowed_interfaces"
    if network.prefixlen and covered(network, allowed_networks(settings)):
        return "intranet", "destination inside the intranet"
    allowed = {str(g) for g in settings["allowed_gateways"]}
    if route["gateways"] and all(g in allowed for g in route["gateways"]):
        return "approved_gateway", "via an approved gateway (network_isolation_allowed_gateways)"
    if network.prefixlen == 0:
        if route["gateways"]:
            return "problem", (
                f"default route via {', '.join(route['gateways'])}, "
                "a gateway not in network_isolation_allowed_gateways"
            )
        return "problem", f"default route straight out of {', '.join(route['devs']) or 'an interface'}"
    if route["gateways"]:
        return "problem", f"route to {route['dst']}, outside the intranet, via {', '.join(route['gateways'])}"
    return "problem", f"route to {route['dst']}, outside the intranet, on {', '.join(route['devs'])}"


def removable(route: dict) -> bool:
    """Enforce removes default routes and gateway routes; a connected route belongs to its interface."""
    return route["network"].prefixlen == 0 or bool(route["gateways"])


def route_delete_argv(route: dict) -> list[str]:
    argv = ["ip", f"-{route['family']}", "route", "del", route["dst"]]
    if not route.get("multipath"):
        if len(route["gateways"]) == 1:
            argv += ["via", route["gateways"][0]]
        if len(route["devs"]) == 1:
            argv += ["dev", route["devs"][0]]
    argv += ["table", route["table"]]
    if route.get("metric") is not None:
        argv += ["metric", str(route["metric"])]
    return argv


# --------------------------------------------------------------------------- what re-adds a route


_IP_ROUTE_OBJECTS = ("r", "ro", "rou", "rout", "route")
_ADD_VERBS = ("a", "ad", "add", "replace", "repl", "append", "app", "change", "chg", "prepend")


def parse_route_command(argv: list[str]) -> dict | None:
    """The route an `ip route add|replace ...` or net-tools `route add ...` command adds, else None."""
    if not argv:
        return None
    program = os.path.basename(argv[0])
    args = list(argv[1:])
    if program == "ip":
        family = 4
        while args and args[0].startswith("-"):
            option = args.pop(0)
            if option == "-6":
                family = 6
            elif option in ("-n", "-netns", "-b", "-batch", "-rc", "-rcvbuf") and args:
                args.pop(0)
        if len(args) < 2 or args[0] not in _IP_ROUTE_OBJECTS or args[1] not in _ADD_VERBS:
            return None
        rest = args[2:]
        dst, gateway, dev, table = None, None, None, "main"
        index = 0
        while index < len(rest):
            word = rest[index]
            following = rest[index + 1] if index + 1 < len(rest) else None
            if word == "via" and following:
                gateway = following.split("/")[0]
                index += 2
            elif word == "dev" and following:
                dev = following
                index += 2
            elif word in ("table", "metric", "proto", "src", "scope", "mtu", "onlink", "type"):
                if word == "table" and following:
                    table = following
                index += 1 if word == "onlink" else 2
            elif dst is None and word not in ("unicast",):
                dst = word
                index += 1
            else:
                index += 1
        if dst is None:
            return None
        if gateway and ":" in gateway:
            family = 6
        return {"family": family, "dst": dst, "gateway": gateway, "dev": dev, "table": table}
    if program == "route" and args[:1] == ["add"]:
        dst, gateway, dev = None, None, None
        index = 1
        while index < len(args):
            word = args[index]
            following = args[index + 1] if index + 1 < len(args) else None
            if word in ("-net", "-host"):
                index += 1
            elif word == "gw" and following:
                gateway = following
                index += 2
            elif word == "dev" and following:
                dev = following
                index += 2
            elif word in ("netmask", "metric") and following:
                if word == "netmask" and dst and "/" not in dst:
                    with contextlib.suppress(ValueError):
                        dst = str(ipaddress.ip_network(f"{dst}/{following}", strict=False))
                index += 2
            elif dst is None:
                dst = word
                index += 1
            else:
                index += 1
        if dst is None:
            return None
        return {"family": 4, "dst": dst, "gateway": gateway, "dev": dev, "table": "main"}
    return None


def parse_unit(text: str) -> dict:
    """The routes a systemd unit's Exec lines add, and whether adding routes is all it does."""
    joined = re.sub(r"\\\n", " ", text)
    commands = []
    for line in joined.splitlines():
        match = re.match(r"^\s*(ExecStart|ExecStartPre|ExecStartPost|ExecReload)\s*=\s*(.*)$", line)
        if not match or not match.group(2).strip():
            continue
        command = match.group(2).strip().lstrip("-@:+!")
        try:
            commands.append(shlex.split(command))
        except ValueError:
            commands.append([command])
    routes = [parse_route_command(argv) for argv in commands]
    return {
        "routes": [r for r in routes if r],
        "route_only": bool(commands) and all(routes),
    }


def route_from_command(command: dict) -> dict | None:
    """A route dict (as parse_routes makes) for a route a command adds, to classify it."""
    dst = command["dst"]
    family = command["family"]
    if dst in ("default", "0/0", "0.0.0.0/0", "::/0"):
        dst = "default"
        network = ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
    else:
        try:
            network = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            return None
        family = network.version
        dst = str(network)
    return {
        "family": family,
        "dst": dst,
        "network": network,
        "gateways": [command["gateway"]] if command.get("gateway") else [],
        "devs": [command["dev"]] if command.get("dev") else [],
        "table": command.get("table") or "main",
        "type": "unicast",
        "protocol": "",
        "metric": None,
        "multipath": False,
    }


def same_route(a: dict, b: dict) -> bool:
    """Whether two routes have the same destination and gateway (a unit's route and a live one)."""
    return a["family"] == b["family"] and a["dst"] == b["dst"] and set(a["gateways"]) == set(b["gateways"])


# --------------------------------------------------------------------------- interfaces


def classify_interface(iface: dict, settings: dict) -> list[str]:
    """Problems of one interface: a wireless or mobile link, or an address outside the intranet."""
    name = iface["name"]
    if name == "lo" or iface.get("link_type") == "loopback" or _matches(name, settings["allowed_interfaces"]):
        return []
    problems = []
    sysfs = iface.get("sysfs") or {}
    state = iface.get("operstate", "unknown").lower()
    if sysfs.get("wireless") or sysfs.get("phy80211") or sysfs.get("devtype") == "wlan":
        problems.append(f"{name}: wireless interface ({state})")
    elif sysfs.get("devtype") == "wwan" or sysfs.get("driver") in MOBILE_DRIVERS:
        problems.append(
            f"{name}: mobile-broadband or USB-tethering interface ({sysfs.get('driver') or 'wwan'}, {state})"
        )
    elif sysfs.get("type") == ARPHRD_PPP or _matches(name, ("ppp*",)):
        problems.append(f"{name}: PPP (dial-up or mobile) link ({state})")
    elif _matches(name, SUSPECT_NAME_PATTERNS) and state not in ("down", "notpresent"):
        problems.append(f"{name}: looks like a wireless, mobile or tethering interface ({state})")
    allowed = allowed_networks(settings)
    for addr in iface.get("addresses") or []:
        if addr.get("scope") != "global":
            continue
        try:
            address = ipaddress.ip_address(addr["local"])
        except (KeyError, ValueError):
            continue
        if not covered(ipaddress.ip_network(address), allowed):
            problems.append(
                f"{name}: address {addr['local']}/{addr.get('prefixlen')} is outside the intranet"
            )
    return problems


def describe_interface(iface: dict) -> str:
    addresses = [
        f"{a['local']}/{a.get('prefixlen')}"
        for a in iface.get("addresses") or []
        if a.get("scope") == "global"
    ]
    return f"{iface['name']} ({iface.get('operstate', 'unknown').lower()}" + (
        ", " + ", ".join(addresses) + ")" if addresses else ")"
    )


# --------------------------------------------------------------------------- SSH sessions


def _hex_address(text: str):
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return ipaddress.ip_address(raw[::-1])
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    address = ipaddress.ip_address(b"".join(words))
    return address.ipv4_mapped or address


def parse_proc_net_tcp(text: str, local_port: int) -> list[str]:
    """Remote addresses of established TCP connections to local_port, from /proc/net/tcp or tcp6."""
    peers = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != "01":
            continue
        try:
            local_port_hex = fields[1].split(":")[1]
            remote = _hex_address(fields[2].split(":")[0])
        except (IndexError, ValueError):
            continue
        if int(local_port_hex, 16) == local_port and str(remote) not in peers:
            peers.append(str(remote))
    return peers


def ssh_guard(settings: dict, observations: dict, routes_to_remove: list[dict]) -> list[str]:
    """Why enforcing now could cut the operator's SSH session; empty when it cannot."""
    messages = []
    allowed = allowed_networks(settings) + [e["network"] for e in settings["approved"] if not e["ports"]]
    for peer in observations.get("ssh_peers") or []:
        address = ipaddress.ip_address(peer)
        if not covered(ipaddress.ip_network(address), allowed):
            messages.append(
                f"the SSH session from {peer} is outside the destinations the egress policy allows; "
                "add it to network_isolation_management_addresses (or the intranet CIDRs) before enforcing"
            )
        used = (observations.get("ssh_peer_routes") or {}).get(peer) or {}
        for route in routes_to_remove:
            if used.get("gateway") and used.get("gateway") in route["gateways"]:
                messages.append(
                    f"the SSH session from {peer} runs through {format_route(route)}, which enforce "
                    "would remove; if that gateway is the intranet's router, list it in "
                    "network_isolation_allowed_gateways"
                )
    return messages


# --------------------------------------------------------------------------- the egress policy


def _elements(values) -> list:
    found = []
    for value in values or []:
        if isinstance(value, dict) and "elem" in value:
            value = value["elem"].get("val")
        try:
            if isinstance(value, str):
                found.append(ipaddress.ip_network(value, strict=False))
            elif isinstance(value, dict) and "prefix" in value:
                found.append(
                    ipaddress.ip_network(f"{value['prefix']['addr']}/{value['prefix']['len']}", strict=False)
                )
            elif isinstance(value, dict) and "range" in value:
                low, high = (ipaddress.ip_address(v) for v in value["range"])
                found += list(ipaddress.summarize_address_range(low, high))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def summarize_nft_table(document: dict) -> dict:
    """Sets, chains and the hisguard policy id of a table, from `nft -j list table inet NAME`."""
    sets, chains = {}, {}
    for item in (document or {}).get("nftables", []):
        if "set" in item:
            sets[item["set"]["name"]] = collapse(_elements(item["set"].get("elem")))
        elif "chain" in item:
            chain = item["chain"]
            chains[chain["name"]] = {
                "hook": chain.get("hook"),
                "policy": chain.get("policy"),
                "rules": 0,
                "last_verdict": None,
                "policy_id": None,
            }
        elif "rule" in item:
            rule = item["rule"]
            chain = chains.setdefault(
                rule["chain"],
                {"hook": None, "policy": None, "rules": 0, "last_verdict": None, "policy_id": None},
            )
            chain["rules"] += 1
            verdicts = [k for expr in rule.get("expr", []) for k in expr if k in ("accept", "drop", "reject")]
            chain["last_verdict"] = verdicts[-1] if verdicts else None
            match = POLICY_COMMENT_RE.search(rule.get("comment") or "")
            chain["policy_id"] = match.group(1) if match else None
    return {"sets": sets, "chains": chains}


def evaluate_policy(settings: dict, policy: dict) -> tuple[list[str], list[str], bool]:
    """(problems, good, loaded_ok) of the hisguard egress policy: file, include, service, loaded table.

    loaded_ok says whether the table in the kernel is the policy the settings describe."""
    problems = []
    table = f"inet {settings['table']}"
    if not policy.get("file_exists"):
        problems.append(f"{settings['policy_file']} is missing")
    elif settings["policy_file_sha256"] and policy.get("file_sha256") != settings["policy_file_sha256"]:
        problems.append(f"{settings['policy_file']} differs from the policy the inventory describes")
    if not policy.get("include_present"):
        problems.append(f"{settings['nftables_conf']} does not include {settings['policy_file']}")
    if policy.get("service_enabled") != "enabled":
        problems.append(
            f"nftables.service is {policy.get('service_enabled') or 'unknown'} at boot, expected enabled"
        )
    loaded = policy.get("loaded")
    on_disk = len(problems)
    if not loaded:
        problems.append(f"table {table} is not loaded ({policy.get('load_error') or 'not found'})")
    else:
        expected = expected_sets(settings)
        for name, elements in expected.items():
            if loaded["sets"].get(name) != elements:
                problems.append(
                    f"loaded set {name} is {loaded['sets'].get(name)}, expected {elements or 'empty'}"
                )
        for name, hook in (("output", "output"), ("forward", "forward")):
            chain = loaded["chains"].get(name)
            if not chain or chain.get("hook") != hook:
                problems.append(f"table {table} has no {hook} chain")
            elif chain.get("last_verdict") not in ("reject", "drop"):
                problems.append(f"the {name} chain of {table} does not end by rejecting the rest")
            elif settings["policy_id"] and chain.get("policy_id") != settings["policy_id"]:
                problems.append(
                    f"the loaded {name} chain is policy {chain.get('policy_id')}, "
                    f"expected {settings['policy_id']} (the file changed but was not loaded, "
                    "or the table was edited by hand)"
                )
    good = (
        []
        if problems
        else [f"egress policy {table} loaded from {settings['policy_file']}, nftables.service enabled"]
    )
    return problems, good, len(problems) == on_disk


# --------------------------------------------------------------------------- DNS


def build_dns_query(name: str, query_id: int) -> bytes:
    header = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.rstrip(".").split("."))
    return header + labels + b"\x00" + struct.pack(">HH", 1, 1)


RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def parse_dns_response(data: bytes, query_id: int) -> dict | None:
    """Header of a DNS response to query_id, or None if data is not one."""
    if len(data) < 12:
        return None
    response_id, flags, _qd, answers, _ns, _ar = struct.unpack(">HHHHHH", data[:12])
    if response_id != query_id or not flags & 0x8000:
        return None
    return {"rcode": RCODES.get(flags & 0xF, str(flags & 0xF)), "answers": answers}


# --------------------------------------------------------------------------- probes


def probe_plan(settings: dict) -> list[dict]:
    """One probe per TCP port, HTTP URL and DNS server of each canary."""
    plan = []
    for canary in settings["canaries"]:
        if canary.get("tcp_port"):
            address = canary["address"]
            plan.append(
                {
                    "kind": "tcp",
                    "target": _endpoint(address, canary["tcp_port"]),
                    "address": str(address),
                    "port": canary["tcp_port"],
                    "protocol": "tcp",
                }
            )
        if canary.get("http"):
            scheme, address, port, path, host = canary["http"]
            plan.append(
                {
                    "kind": "https" if scheme == "https" else "http",
                    "target": f"{scheme}://{host}:{port}{path}",
                    "address": str(address),
                    "port": port,
                    "protocol": "tcp",
                    "path": path,
                    "host": host,
                }
            )
        if canary.get("dns"):
            server, port, name = canary["dns"]
            plan.append(
                {
                    "kind": "dns",
                    "target": f"{_endpoint(server, port)} ({name})",
                    "address": str(server),
                    "port": port,
                    "protocol": "udp",
                    "name": name,
                }
            )
    return plan


def _endpoint(address, port) -> str:
    address = ipaddress.ip_address(address)
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def describe_probe(result: dict) -> str:
    verb = "answered" if result["reachable"] else "no answer"
    return f"{result['kind'].upper()} {result['target']}: {verb} ({result['detail']}, {result['ms']} ms)"


# --------------------------------------------------------------------------- evaluation


def evaluate(settings: dict, observations: dict) -> dict:
    """The verdict on one host: problems, good findings, errors, and what enforce would change."""
    problems, good, errors = [], [], list(observations.get("errors") or [])
    routes = observations.get("routes") or []
    checked, route_problems, to_remove = 0, [], []
    for route in routes:
        verdict, reason = classify_route(route, settings)
        if verdict == "ignored":
            continue
        checked += 1
        if verdict == "problem":
            route_problems.append((route, reason))
            if removable(route):
                to_remove.append(route)
        elif verdict == "approved_gateway":
            good.append(f"{format_route(route)}: {reason}")

    units_to_disable, unit_problems = [], []
    for unit in observations.get("units") or []:
        bad = []
        for command in unit["routes"]:
            route = route_from_command(command)
            if route is not None and classify_route(route, settings)[0] == "problem":
                bad.append(route)
        if not bad:
            continue
        unit["adds"] = [format_route(r) for r in bad]
        if unit.get("enabled") in ("enabled", "enabled-runtime", "static", "alias", "linked"):
            # Only a unit whose every command adds a route, and that `systemctl disable` can switch off.
            if unit["route_only"] and unit.get("enabled") in ("enabled", "enabled-runtime"):
                units_to_disable.append(unit["name"])
            unit_problems.append(unit)
        for route, _reason in route_problems:
            if any(same_route(route, b) for b in bad):
                route.setdefault("persisted_by", []).append(f"{unit['name']} ({unit.get('enabled')})")

    mentions = observations.get("config_mentions") or {}
    for route, reason in route_problems:
        sources = list(route.get("persisted_by") or [])
        sources += [path for g in route["gateways"] for path in mentions.get(g, [])]
        suffix = f"; configured in {', '.join(sources)}" if sources else ""
        problems.append(f"{format_route(route)}: {reason}{suffix}")
    for unit in unit_problems:
        if not any(unit["name"] in s for route, _ in route_problems for s in route.get("persisted_by") or []):
            problems.append(f"{unit['name']} ({unit.get('enabled')}) adds {', '.join(unit['adds'])} at boot")
    if settings["zone"] == "internet":
        problems, to_remove, units_to_disable = [], [], []
    elif not route_problems and not unit_problems:
        good.append(f"no route leaves the intranet ({checked} routes checked)")

    interface_problems = []
    for iface in observations.get("interfaces") or []:
        interface_problems += classify_interface(iface, settings)
    if settings["zone"] == "intranet":
        problems += interface_problems
        if not interface_problems:
            described = [
                describe_interface(i) for i in observations.get("interfaces") or [] if i["name"] != "lo"
            ]
            good.append("interfaces: " + ("; ".join(described) or "none but lo"))

    probes = observations.get("probes") or []
    for result in probes:
        if result.get("error"):
            errors.append(f"{result['kind']} probe to {result['target']} could not run: {result['error']}")
            continue
        if settings["zone"] == "intranet":
            (problems if result["reachable"] else good).append(describe_probe(result))
        else:
            approved = is_approved(settings, result["address"], result["protocol"], result["port"])
            result["approved"] = approved
            if result["reachable"] and not approved:
                problems.append(describe_probe(result) + " — not an approved destination")
            else:
                good.append(describe_probe(result) + (" (approved)" if approved else " (not approved)"))

    policy = observations.get("policy") or {}
    policy_problems, policy_good, policy_loaded_ok = evaluate_policy(settings, policy)
    if settings["policy_expected"]:
        problems += policy_problems
        good += policy_good
    elif policy.get("loaded"):
        state = "; ".join(policy_problems) or "as the inventory describes"
        good.append(f"egress policy inet {settings['table']} loaded, not required here ({state})")

    if settings["zone"] == "internet" and not settings["policy_expected"]:
        if not settings["approved"]:
            problems.insert(
                0,
                "no approved Internet destinations are recorded for this host "
                "(network_isolation_internet_allowed_destinations is empty) and hisguard does not restrict "
                "its egress (network_isolation_internet_enforce: false)",
            )
        elif not problems:
            good.append(
                f"{len(settings['approved'])} approved destinations recorded; no unapproved canary probe "
                "answered (egress is restricted upstream; hisguard does not enforce a policy on this host)"
            )

    if problems:
        status = "fail"
    elif errors:
        status = "error"
    else:
        status = "pass"
    return {
        "status": status,
        "problems": problems,
        "good": good,
        "errors": errors,
        "routes_to_remove": [
            {"route": format_route(r), "argv": route_delete_argv(r)}
            for r in (to_remove if settings["zone"] == "intranet" else [])
        ],
        "units_to_disable": units_to_disable,
        "ssh_guard": ssh_guard(settings, observations, to_remove),
        "policy_problems": policy_problems,
        "policy_loaded_ok": policy_loaded_ok,
    }


# --------------------------------------------------------------------------- reading the host


def _run(argv: list[str], timeout: float = 10) -> tuple[int, str, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: command not found"
    except subprocess.TimeoutExpired:
        return 124, "", f"{' '.join(argv)}: timed out"
    return done.returncode, done.stdout, done.stderr.strip()


def _read(path: str, limit: int = 1 << 20) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return None


def _ip_json(argv: list[str], errors: list[str]):
    rc, out, err = _run(argv)
    if rc != 0:
        errors.append(f"{' '.join(argv)} failed (rc {rc}): {err}")
        return []
    try:
        return json.loads(out or "[]")
    except ValueError:
        errors.append(f"{' '.join(argv)}: output is not JSON (iproute2 too old for -j?)")
        return []


def _sysfs(name: str) -> dict:
    base = f"/sys/class/net/{name}"
    uevent = _read(f"{base}/uevent") or ""
    devtype = re.search(r"^DEVTYPE=(\S+)$", uevent, re.M)
    driver = os.path.realpath(f"{base}/device/driver") if os.path.exists(f"{base}/device/driver") else ""
    try:
        kind = int((_read(f"{base}/type") or "0").strip() or 0)
    except ValueError:
        kind = 0
    return {
        "wireless": os.path.isdir(f"{base}/wireless"),
        "phy80211": os.path.exists(f"{base}/phy80211"),
        "devtype": devtype.group(1) if devtype else "",
        "driver": os.path.basename(driver),
        "type": kind,
    }


def _units() -> list[dict]:
    units, seen = [], set()
    for directory in UNIT_DIRS:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            if not name.endswith(".service") or name in seen or not os.path.isfile(path):
                continue
            seen.add(name)
            parsed = parse_unit(_read(path) or "")
            if not parsed["routes"]:
                continue
            rc, out, _err = _run(["systemctl", "is-enabled", name])
            parsed.update({"name": name, "path": path, "enabled": out.strip() or ("unknown" if rc else "")})
            units.append(parsed)
    return units


def _config_mentions(gateways: list[str]) -> dict:
    found = {g: [] for g in gateways}
    if not gateways:
        return found
    for pattern in NETWORK_CONFIG_GLOBS:
        for path in sorted(glob.glob(pattern)):
            text = _read(path) or ""
            for gateway in gateways:
                if re.search(r"(?<![0-9A-Fa-f.:])" + re.escape(gateway) + r"(?![0-9A-Fa-f.:])", text):
                    found[gateway].append(path)
    return found


def _route_get(address: str) -> dict:
    rc, out, err = _run(["ip", "-j", "route", "get", address])
    if rc != 0:
        return {"error": err or f"rc {rc}"}
    try:
        entries = json.loads(out or "[]")
    except ValueError:
        return {"error": "output is not JSON"}
    entry = entries[0] if entries else {}
    return {k: entry[k] for k in ("dst", "gateway", "dev", "prefsrc") if k in entry}


def _policy_state(settings: dict) -> dict:
    state = {"nft_present": bool(shutil.which("nft") or os.path.exists("/usr/sbin/nft"))}
    path = settings["policy_file"]
    try:
        with open(path, "rb") as handle:
            state["file_sha256"] = hashlib.sha256(handle.read()).hexdigest()
        state["file_exists"] = True
    except OSError:
        state["file_exists"] = False
    conf = _read(settings["nftables_conf"]) or ""
    include = re.compile(r'^\s*include\s+"' + re.escape(path) + r'"\s*$', re.M)
    state["include_present"] = bool(include.search(conf))
    rc, out, _err = _run(["systemctl", "is-enabled", "nftables.service"])
    state["service_enabled"] = out.strip() or ("unknown" if rc else "")
    # firewalld.service conflicts with nftables.service (Conflicts=): enforce must not enable both.
    rc, out, _err = _run(["systemctl", "is-active", "firewalld.service"])
    state["firewalld"] = out.strip() or "unknown"
    rc, out, err = _run(["nft", "-j", "list", "table", "inet", settings["table"]])
    if rc == 0:
        try:
            state["loaded"] = summarize_nft_table(json.loads(out))
        except ValueError:
            state["loaded"] = None
            state["load_error"] = "nft -j output is not JSON"
    else:
        state["loaded"] = None
        state["load_error"] = "not loaded" if "No such file" in err else (err or f"nft rc {rc}")
    return state


def _probe(plan: dict, timeout: float) -> dict:
    result = dict(plan)
    started = time.monotonic()
    try:
        if plan["kind"] == "dns":
            result.update(_probe_dns(plan, timeout))
        else:
            result.update(_probe_tcp(plan, timeout))
    except Exception as exc:  # a probe bug is an error of the check, never a pass
        result.update({"reachable": False, "detail": "", "error": f"{type(exc).__name__}: {exc}"})
    result["ms"] = int((time.monotonic() - started) * 1000)
    return result


def _socket_error(exc: OSError) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))


def _probe_tcp(plan: dict, timeout: float) -> dict:
    family = socket.AF_INET6 if ":" in plan["address"] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect((plan["address"], plan["port"]))
        except ConnectionRefusedError:
            return {"reachable": True, "detail": "connection refused: the address answered"}
        except OSError as exc:
            return {"reachable": False, "detail": _socket_error(exc)}
        if plan["kind"] == "tcp":
            return {"reachable": True, "detail": "connected"}
        stream = sock
        if plan["kind"] == "https":
            import ssl

            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            try:
                stream = context.wrap_socket(sock, server_hostname=None)
            except (OSError, ssl.SSLError) as exc:
                return {"reachable": True, "detail": f"connected; TLS failed ({exc})"}
        request = (
            f"GET {plan['path']} HTTP/1.0\r\nHost: {plan['host']}\r\n"
            "User-Agent: hisguard-network-isolation\r\nConnection: close\r\n\r\n"
        )
        try:
            stream.sendall(request.encode("ascii", "replace"))
            data = stream.recv(256)
        except OSError as exc:
            return {"reachable": True, "detail": f"connected; no HTTP answer ({_socket_error(exc)})"}
        status = data.split(b"\r\n", 1)[0].decode("ascii", "replace").strip()
        return {"reachable": True, "detail": status or "connected; empty answer"}
    finally:
        sock.close()


def _probe_dns(plan: dict, timeout: float) -> dict:
    family = socket.AF_INET6 if ":" in plan["address"] else socket.AF_INET
    query_id = random.randint(1, 0xFFFF)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        try:
            sock.connect((plan["address"], plan["port"]))
            sock.send(build_dns_query(plan["name"], query_id))
        except OSError as exc:
            return {"reachable": False, "detail": _socket_error(exc)}
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"reachable": False, "detail": "timed out"}
            sock.settimeout(remaining)
            try:
                data = sock.recv(4096)
            except ConnectionRefusedError:
                return {"reachable": True, "detail": "ICMP port unreachable: the address answered"}
            except OSError as exc:
                return {"reachable": False, "detail": _socket_error(exc)}
            answer = parse_dns_response(data, query_id)
            if answer:
                return {"reachable": True, "detail": f"DNS {answer['rcode']}, {answer['answers']} answers"}
    finally:
        sock.close()


def run_probes(settings: dict) -> list[dict]:
    """Every probe of every canary at once (threads), so the host waits one timeout at most."""
    plan = probe_plan(settings)
    results: list[dict | None] = [None] * len(plan)

    def worker(index: int) -> None:
        results[index] = _probe(plan[index], settings["timeout"])

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(plan))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(settings["timeout"] * 3 + 1)
    return [
        r if r is not None else {**plan[i], "reachable": False, "detail": "", "error": "probe hung", "ms": 0}
        for i, r in enumerate(results)
    ]


def observe(settings: dict) -> dict:
    """Everything the evaluation reads, from the host (read-only)."""
    errors: list[str] = []
    routes = []
    for family in (4, 6):
        routes += parse_routes(
            _ip_json(["ip", "-j", f"-{family}", "route", "show", "table", "all"], errors), family
        )
    interfaces = []
    for link in _ip_json(["ip", "-j", "addr", "show"], errors):
        name = link.get("ifname", "")
        interfaces.append(
            {
                "name": name,
                "operstate": link.get("operstate", "UNKNOWN"),
                "link_type": link.get("link_type", ""),
                "addresses": link.get("addr_info") or [],
                "sysfs": _sysfs(name),
            }
        )
    peers = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        peers += [p for p in parse_proc_net_tcp(_read(path) or "", settings["ssh_port"]) if p not in peers]
    for variable in ("SSH_CONNECTION", "SSH_CLIENT"):
        value = os.environ.get(variable, "").split()
        if value and value[0] not in peers:
            peers.append(value[0])
    units = _units()
    gateways = sorted(
        {g for r in routes for g in r["gateways"]}
        | {c["gateway"] for u in units for c in u["routes"] if c["gateway"]}
    )
    canaries = sorted({str(a) for c in settings["canaries"] for a in _canary_addresses(c)})
    observations = {
        "errors": errors,
        "routes": routes,
        "interfaces": interfaces,
        "units": units,
        "config_mentions": _config_mentions(gateways),
        "ssh_peers": peers,
        "ssh_peer_routes": {p: _route_get(p) for p in peers},
        "canary_routes": {a: _route_get(a) for a in canaries},
        "policy": _policy_state(settings),
        "probes": run_probes(settings) if settings["probe"] else [],
    }
    return observations


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "network"}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(
        value, (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network)
    ):
        return str(value)
    return value


def main(argv: list[str]) -> int:
    raw = json.loads(argv[1]) if len(argv) > 1 else {}
    settings, errors = normalize_settings(raw)
    if errors:
        print(json.dumps({"settings_errors": errors}))
        return 0
    observations = observe(settings)
    verdict = evaluate(settings, observations)
    print(
        json.dumps(
            {
                "settings_errors": [],
                "verdict": verdict,
                "observations": _jsonable(
                    {
                        **observations,
                        "routes": [format_route(r) for r in observations["routes"]],
                        "interfaces": [
                            {
                                "name": i["name"],
                                "operstate": i["operstate"],
                                "addresses": [
                                    f"{a.get('local')}/{a.get('prefixlen')} ({a.get('scope')})"
                                    for a in i["addresses"]
                                ],
                                **{k: v for k, v in i["sysfs"].items() if v},
                            }
                            for i in observations["interfaces"]
                        ],
                    }
                ),
                "expected_sets": expected_sets(settings),
            },
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
