# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Filters for the ip_register role; the logic is plugins/module_utils/ip_register.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.hisguard.infosec.plugins.module_utils import ip_register


def _wrap(func):
    def call(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ip_register.RegisterError as err:
            raise AnsibleFilterError(f"ip_register: {err}") from None

    return call


def ip_register_host(facts, register, ignore=()):
    """P1.4.10 findings for one host: facts (ansible_facts) against its hisguard_interfaces."""
    entries = ip_register.register_entries(register, "hisguard_interfaces")
    return ip_register.check_host(entries, ip_register.observed_interfaces(facts, ignore))


def ip_register_observed(facts, ignore=()):
    """[{interface, address, mac}] of a host's IPv4 addresses (evidence)."""
    return ip_register.observed_interfaces(facts, ignore)


def ip_register_scan(seen, hosts_registers, infrastructure):
    """P1.3.5 findings: the sweep's [{address, mac}] against {host: hisguard_interfaces} and the
    known infrastructure."""
    registered = {
        host: ip_register.register_entries(entries, f"{host}: hisguard_interfaces")
        for host, entries in (hosts_registers or {}).items()
    }
    infra = ip_register.register_entries(infrastructure, "hisguard_infrastructure_addresses")
    return ip_register.check_scan(seen, registered, infra)


def ip_register_networks(networks, intranet_cidrs, max_prefix=22):
    """{networks, error}: the networks to sweep if each is inside the intranet CIDRs and no larger than
    /max_prefix, else the reason they are refused."""
    return ip_register.checked_networks(networks, intranet_cidrs, max_prefix)


class FilterModule:
    def filters(self):
        return {
            "ip_register_host": _wrap(ip_register_host),
            "ip_register_observed": _wrap(ip_register_observed),
            "ip_register_scan": _wrap(ip_register_scan),
            "ip_register_networks": _wrap(ip_register_networks),
        }
