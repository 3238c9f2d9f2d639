# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: switch_facts
short_description: Gather facts from a Cisco IOS switch over SSH (netmiko)
version_added: "0.1.0"
description:
  - Logs in to a Cisco IOS switch over SSH with netmiko, enters privileged (enable) mode and reads
    C(show version), C(show running-config) and C(show vlan brief).
  - Returns the hostname, software version, model, serial number, every interface (description,
    shutdown, switchport mode, access VLAN, address), the VLANs with their access ports, and, when
    O(primary_port) / O(backup_port) are given, the state of the primary and backup uplinks.
  - Runs on the controller (use it with C(delegate_to) C(localhost)); it changes nothing on the switch.
  - Any failure (unreachable, refused login or enable secret, unknown or changed host key,
    timeout) fails the task with a message that names the switch and what to check.
extends_documentation_fragment:
  - hisguard.infosec.switch_connection
options:
  primary_port:
    description: Name of the primary uplink port (abbreviations such as C(Te1/1/1) are accepted).
    type: str
  backup_port:
    description: Name of the backup uplink port.
    type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - The lab's switches (C(hisguard lab up)) publish O(port), the role, the uplink names and the
    known_hosts file as host and group variables of the C(network_devices) group.
author:
  - hisguard developers
"""

EXAMPLES = r"""
- name: Gather switch facts from the controller
  hisguard.infosec.switch_facts:
    host: "{{ ansible_host }}"
    port: "{{ ansible_port | default(22) }}"
    username: "{{ ansible_user }}"
    password: "{{ ansible_password }}"
    secret: "{{ ansible_become_password }}"
    known_hosts: "{{ hisguard_switch_known_hosts | default(omit) }}"
    primary_port: "{{ hisguard_switch_primary_uplink | default(omit) }}"
    backup_port: "{{ hisguard_switch_backup_uplink | default(omit) }}"
  delegate_to: localhost
  register: switch

- name: Show whether the backup uplink is shut down
  ansible.builtin.debug:
    msg: "{{ switch.uplinks.backup.port }} shutdown={{ switch.uplinks.backup.shutdown }}"
"""

RETURN = r"""
hostname:
  description: Hostname from the running configuration (or from C(show version)).
  returned: success
  type: str
  sample: core-sw-01
version:
  description: IOS software version.
  returned: success
  type: str
  sample: 15.2(4)E10
model:
  description: Hardware model (null when the device does not report it).
  returned: success
  type: str
  sample: WS-C3750X-24T-S
serial:
  description: System serial number (null when the device does not report it).
  returned: success
  type: str
  sample: FDO1734X1AB
interfaces:
  description:
    - Interfaces from the running configuration, by full name. C(mode) is C(access), C(trunk),
      C(routed) or null; C(vlan) the access VLAN; C(ip) the primary address with prefix length.
  returned: success
  type: dict
  sample:
    TenGigabitEthernet1/1/2:
      description: UPLINK-BACKUP fiber to dc-rtr-02 Te0/0/0
      shutdown: true
      mode: trunk
      vlan: null
      trunk_vlans: 10,20,30,40,99
      ip: null
      ips: []
vlans:
  description: VLANs by number, with name, status and access ports (full names).
  returned: success
  type: dict
  sample:
    "10":
      name: OUTPATIENT
      status: active
      ports: [GigabitEthernet1/0/1, GigabitEthernet1/0/2]
uplinks:
  description:
    - State of the uplinks named by O(primary_port) and O(backup_port) (a role is absent when its
      port was not given). C(present) is false when the switch has no such interface.
  returned: success
  type: dict
  sample:
    primary: {port: TenGigabitEthernet1/1/1, present: true, shutdown: false, description: UPLINK-PRIMARY}
    backup: {port: TenGigabitEthernet1/1/2, present: true, shutdown: true, description: UPLINK-BACKUP}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402
from ansible_collections.hisguard.infosec.plugins.module_utils.netmiko_device import (  # noqa: E402
    CONNECTION_ARGUMENT_SPEC,
    HAS_NETMIKO,
    NETMIKO_IMPORT_ERROR,
    SwitchError,
    parse_running_config,
    parse_show_version,
    parse_show_vlan,
    session_from_params,
    uplink_state,
)


def gather(session, primary_port=None, backup_port=None):
    version = parse_show_version(session.show("show version"))
    running = parse_running_config(session.show("show running-config"))
    vlans = parse_show_vlan(session.show("show vlan brief"))
    return {
        "hostname": running["hostname"] or version["hostname"],
        "version": version["version"],
        "model": version["model"],
        "serial": version["serial"],
        "interfaces": running["interfaces"],
        "vlans": {str(number): vlan for number, vlan in sorted(vlans.items())},
        "uplinks": uplink_state(running["interfaces"], primary_port, backup_port),
    }


def main():
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            "primary_port": {"type": "str"},
            "backup_port": {"type": "str"},
        },
        supports_check_mode=True,
    )
    if not HAS_NETMIKO:
        module.fail_json(msg=missing_required_lib("netmiko"), exception=str(NETMIKO_IMPORT_ERROR))
    p = module.params
    session = session_from_params(p)
    try:
        with session:
            facts = gather(session, p["primary_port"], p["backup_port"])
    except SwitchError as err:
        module.fail_json(msg=err.message, host=p["host"], port=p["port"])
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
