# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""The IP register (P1.3.5, P1.4.10): compare what hosts and a sweep show with the inventory's register.

The register is each host's `hisguard_interfaces: [{address, mac}]`; known infrastructure (gateways,
the controller) is `hisguard_infrastructure_addresses: [{address, mac?, name?}]`. Plain functions,
used by the filter plugin hisguard.infosec.ip_register_* and unit-tested.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class RegisterError(ValueError):
    """The register or the scan settings are malformed; the message says what to fix."""


def normalize_mac(mac):
    """'02-4C-0A-4D-0A-0C' -> '02:4c:0a:4d:0a:0c'; None/'' stay None; RegisterError when malformed."""
    if mac is None or str(mac).strip() == "":
        return None
    text = str(mac).strip().lower().replace("-", ":")
    if not _MAC.match(text):
        raise RegisterError(f"{mac!r} is not a MAC address (expected six hex pairs, e.g. 02:4c:0a:4d:0a:0c)")
    return text


def register_entries(entries, where):
    """Validated [{address, mac, name}] from a register list (strings or mappings)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise RegisterError(f"{where} must be a list of {{address, mac}} entries")
    result = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"address": entry}
        if not isinstance(entry, dict) or not entry.get("address"):
            raise RegisterError(f"{where}[{index}] has no address")
        try:
            address = str(ipaddress.ip_address(str(entry["address"]).strip()))
        except ValueError:
            raise RegisterError(f"{where}[{index}]: {entry['address']!r} is not an IP address") from None
        try:
            mac = normalize_mac(entry.get("mac"))
        except RegisterError as err:
            raise RegisterError(f"{where}[{index}]: {err}") from None
        result.append({"address": address, "mac": mac, "name": entry.get("name")})
    return result


def observed_interfaces(facts, ignore=()):
    """[{interface, address, mac}] of a host's IPv4 addresses from Ansible facts (loopback, link-local and
    interfaces matching an `ignore` pattern left out)."""
    found = []
    for name in sorted(facts.get("interfaces") or []):
        if any(fnmatch.fnmatch(name, pattern) for pattern in ignore):
            continue
        iface = facts.get(name.replace("-", "_").replace(".", "_")) or {}
        ipv4 = [iface.get("ipv4")] if isinstance(iface.get("ipv4"), dict) else []
        for addr in ipv4 + list(iface.get("ipv4_secondaries") or []):
            address = ipaddress.ip_address(addr["address"])
            if address.is_loopback or address.is_link_local:
                continue
            mac = iface.get("macaddress")
            found.append(
                {"interface": name, "address": str(address), "mac": normalize_mac(mac) if mac else None}
            )
    return found


def check_host(register, observed):
    """P1.4.10 for one host: every registered address is on the host with its registered MAC, and the
    host has no address outside the register. -> {"problems": [...], "matched": [...]}"""
    problems, matched = [], []
    if not register:
        problems.append("the host has no entry in the IP register (hisguard_interfaces)")
    by_address = {item["address"]: item for item in observed}
    for entry in register:
        seen = by_address.get(entry["address"])
        if seen is None:
            problems.append(f"registered address {entry['address']} is not configured on the host")
        elif entry["mac"] and seen["mac"] != entry["mac"]:
            problems.append(
                f"{entry['address']} is on {seen['interface']} with MAC {seen['mac']}, "
                f"the register says {entry['mac']}"
            )
        else:
            matched.append(f"{entry['address']} on {seen['interface']} ({seen['mac']})")
    registered = {entry["address"] for entry in register}
    for item in observed:
        if item["address"] not in registered:
            problems.append(
                f"{item['interface']} has address {item['address']} ({item['mac']}) "
                "that is not in the register"
            )
    return {"problems": problems, "matched": matched}


def scan_networks(networks, intranet_cidrs, max_prefix=22):
    """The networks to sweep, validated: each inside an intranet CIDR and no larger than /max_prefix."""
    try:
        intranet = [ipaddress.ip_network(str(c), strict=True) for c in intranet_cidrs or []]
        wanted = [ipaddress.ip_network(str(n), strict=True) for n in networks or []]
    except ValueError as err:
        raise RegisterError(f"not a network: {err}") from None
    if not intranet:
        raise RegisterError(
            "hisguard_intranet_cidrs is empty: the sweep only covers the intranet's own networks"
        )
    if not wanted:
        raise RegisterError("no network to sweep (ip_register_scan_networks is empty)")
    for net in wanted:
        if net.version != 4:
            raise RegisterError(f"{net}: only IPv4 networks are swept")
        if not any(net.subnet_of(c) for c in intranet if c.version == 4):
            raise RegisterError(
                f"{net} is not inside the intranet networks ({', '.join(map(str, intranet))}): "
                "refusing to sweep it"
            )
        if net.prefixlen < int(max_prefix):
            raise RegisterError(
                f"{net} is larger than /{max_prefix}: "
                "sweep smaller networks or raise ip_register_scan_max_prefix"
            )
    return [str(n) for n in wanted]


def checked_networks(networks, intranet_cidrs, max_prefix=22):
    """scan_networks without raising: {"networks": [...], "error": None} or {"networks": [], "error": why}."""
    try:
        return {"networks": scan_networks(networks, intranet_cidrs, max_prefix), "error": None}
    except RegisterError as err:
        return {"networks": [], "error": str(err)}


def check_scan(seen, registered_hosts, infrastructure):
    """P1.3.5: addresses seen by the sweep against the register.

    seen: [{address, mac}]; registered_hosts: {host: [entries]}; infrastructure: [entries].
    -> {"unknown": [{address, mac, mac_registered_to}], "mac_mismatch": [{address, mac, expected, owner}],
        "known": int}
    """
    owners = {}
    mac_owner = {}
    for host, entries in sorted(registered_hosts.items()):
        for entry in entries:
            owners.setdefault(entry["address"], (host, entry["mac"]))
            if entry["mac"]:
                mac_owner.setdefault(entry["mac"], host)
    for entry in infrastructure:
        owners.setdefault(entry["address"], (entry.get("name") or "infrastructure", entry["mac"]))
    unknown, mismatch, known = [], [], 0
    for item in seen:
        mac = normalize_mac(item.get("mac"))
        owner = owners.get(item["address"])
        if owner is None:
            unknown.append({"address": item["address"], "mac": mac, "mac_registered_to": mac_owner.get(mac)})
        elif owner[1] and mac and mac != owner[1]:
            mismatch.append({"address": item["address"], "mac": mac, "expected": owner[1], "owner": owner[0]})
        else:
            known += 1
    return {"unknown": unknown, "mac_mismatch": mismatch, "known": known}
