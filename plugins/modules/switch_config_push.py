# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: switch_config_push
short_description: Load a backed-up configuration onto a Cisco IOS switch (spare switch), with rollback
version_added: "0.1.0"
description:
  - Implements the spare-switch part of article P3.8.3 (备用交换机) over SSH with netmiko, on the
    controller (use it with C(delegate_to) C(localhost)).
  - Reads the restorable backup O(src) (written by M(hisguard.infosec.switch_config_backup), plain or
    ansible-vault encrypted), optionally replaces its hostname and management address
    (O(hostname), O(mgmt_interface), O(mgmt_address)), and computes the configuration lines that turn
    the device's running configuration into it - removals first, then additions, section by section.
  - "Pre-check: every physical interface of the backup must exist on the device. Ports the device
    has and the backup does not mention are left as they are (RV(left_alone))."
  - In check mode the module stops after the plan and changes nothing.
  - "Apply: the lines are sent one at a time; the first refused line stops the push. Verify: the
    device's running configuration must then match the (adjusted) backup exactly. Save: C(write memory)."
  - On any failure after the first line was sent, the running configuration is rolled back to the
    one captured before the push, and the module checks that it is identical again.
  - Configuration lines in the returned steps are sanitized (no password or key).
extends_documentation_fragment:
  - hisguard.infosec.switch_connection
options:
  src:
    description: The restorable configuration file (plain text or ansible-vault encrypted).
    type: path
    required: true
  vault_password_file:
    description: Password file to decrypt O(src) when it is ansible-vault encrypted.
    type: path
  hostname:
    description: Hostname to set instead of the backup's.
    type: str
  mgmt_interface:
    description: Management interface whose primary address is replaced (for example C(Vlan99)).
    type: str
  mgmt_address:
    description:
      - Management address to set on O(mgmt_interface).
      - The backup's mask is kept unless C(address/prefix) is given.
    type: str
  save:
    description: Save the verified configuration to the startup configuration (C(write memory)).
    type: bool
    default: true
  mask:
    description: More values to mask in the returned steps.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    details: In check mode the device is read and the plan returned; no configuration is sent.
  diff_mode:
    support: none
notes:
  - Banners and other multi-line literals that differ make the pre-check fail; change them by hand.
seealso:
  - module: hisguard.infosec.switch_config_backup
  - module: hisguard.infosec.uplink_failover
author:
  - hisguard developers
"""

EXAMPLES = r"""
- name: P3.8.3 | FAILOVER | load access-sw-01's last backup onto the spare switch
  hisguard.infosec.switch_config_push:
    host: "{{ ansible_host }}"
    port: "{{ ansible_port | default(22) }}"
    username: "{{ ansible_user }}"
    password: "{{ ansible_password }}"
    secret: "{{ ansible_become_password }}"
    known_hosts: "{{ hisguard_switch_known_hosts | default(omit) }}"
    src: /srv/hisguard/netconfig/configs/access-sw-01.cfg
    hostname: "{{ inventory_hostname }}"
    mgmt_interface: "{{ hisguard_switch_mgmt_interface }}"
    mgmt_address: "{{ hisguard_switch_mgmt_address }}"
  delegate_to: localhost
"""

RETURN = r"""
steps:
  description: What was done, in order, with UTC timestamps (see M(hisguard.infosec.uplink_failover)).
  returned: always
  type: list
  elements: dict
commands:
  description: The configuration lines of the plan (sanitized).
  returned: always
  type: list
  elements: str
left_alone:
  description: Physical interfaces of the device that the backup does not mention (not changed).
  returned: always
  type: list
  elements: str
backup:
  description: The backup used - C(path), C(lines), C(modified) (UTC) and C(encrypted).
  returned: when O(src) was read
  type: dict
verified:
  description: The running configuration matches the (adjusted) backup.
  returned: always
  type: bool
saved:
  description: The configuration was saved to the startup configuration.
  returned: always
  type: bool
rolled_back:
  description: A failure after the first configuration line triggered a rollback.
  returned: always
  type: bool
rollback_verified:
  description:
    - After the rollback the running configuration is identical to the one captured before.
    - Null when there was no rollback.
  returned: always
  type: bool
seconds:
  description:
    - Seconds from the module's start to the device verified (C(to_verified)) and to the end (C(total)).
  returned: always
  type: dict
"""

import datetime  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402
from ansible_collections.hisguard.infosec.plugins.module_utils import ios_config  # noqa: E402
from ansible_collections.hisguard.infosec.plugins.module_utils.netmiko_device import (  # noqa: E402
    CONNECTION_ARGUMENT_SPEC,
    HAS_NETMIKO,
    NETMIKO_IMPORT_ERROR,
    SwitchError,
    canonical_interface,
    session_from_params,
)
from ansible_collections.hisguard.infosec.plugins.module_utils.secure_files import (  # noqa: E402
    SecureFileError,
    is_vault,
    read_text,
    vault_decrypt,
)
from ansible_collections.hisguard.infosec.plugins.module_utils.switch_change import (  # noqa: E402
    Steps,
    apply_change,
    utc_now,
)


def load_backup(module, p):
    text = read_text(p["src"])
    if text is None:
        raise SecureFileError(
            f"no backup at {p['src']}: back the failed switch up first (`hisguard netconfig backup`)"
        )
    encrypted = is_vault(text)
    if encrypted:
        if not p["vault_password_file"]:
            raise SecureFileError(f"{p['src']} is vault-encrypted: give vault_password_file")
        text = vault_decrypt(module, p["src"], p["vault_password_file"])
    if not ios_config.normalized_lines(text):
        raise SecureFileError(f"{p['src']} holds no configuration")
    modified = datetime.datetime.fromtimestamp(os.stat(p["src"]).st_mtime, datetime.UTC)
    info = {
        "path": p["src"],
        "lines": len(text.splitlines()),
        "modified": modified.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "encrypted": encrypted,
    }
    return text, info


def run(module, session, steps):
    p = module.params
    started = time.monotonic()
    result = {
        "changed": False,
        "commands": [],
        "left_alone": [],
        "verified": False,
        "saved": False,
        "rolled_back": False,
        "rollback_verified": None,
        "seconds": {},
    }

    def seconds(**marks):
        result["seconds"].update({k: round(v - started, 3) for k, v in marks.items()})

    def stop(message):
        seconds(total=time.monotonic())
        module.fail_json(msg=message, steps=steps.items, **result)

    try:
        backup, result["backup"] = load_backup(module, p)
    except (SecureFileError, OSError) as err:
        steps.add("backup", "failed", str(err))
        stop(f"nothing was changed: {err}")
    steps.add(
        "backup",
        "ok",
        f"{p['src']}: {result['backup']['lines']} lines, written {result['backup']['modified']}"
        + (" (vault-encrypted)" if result["backup"]["encrypted"] else ""),
    )
    mgmt_interface = canonical_interface(p["mgmt_interface"]) if p["mgmt_interface"] else None
    try:
        target = ios_config.adjust_identity(backup, p["hostname"], mgmt_interface, p["mgmt_address"])
    except ValueError as err:
        steps.add("adjust", "failed", str(err))
        stop(f"nothing was changed: the backup cannot be adjusted: {err}")
    adjusted = []
    if p["hostname"]:
        adjusted.append(f"hostname {p['hostname']}")
    if mgmt_interface and p["mgmt_address"]:
        adjusted.append(f"{mgmt_interface} address {p['mgmt_address']}")
    steps.add("adjust", "ok", "set " + ", ".join(adjusted) if adjusted else "backup used as it is")

    try:
        session.open()
    except SwitchError as err:
        steps.add("connect", "failed", err.message)
        stop(f"nothing was changed: {err.message}")
    steps.add("connect", "ok", f"SSH {p['host']}:{p['port']}, privileged mode")
    try:
        before = session.running_config()
        captured_at = utc_now()
    except SwitchError as err:
        steps.add("precheck", "failed", err.message)
        stop(f"nothing was changed: {err.message}")
    device_ports = set(ios_config.interface_names(before))
    missing = [name for name in ios_config.interface_names(target) if name not in device_ports]
    if missing:
        message = (
            f"the device lacks {len(missing)} interface(s) of the backup ({', '.join(missing[:8])}"
            f"{', ...' if len(missing) > 8 else ''}): use a spare of the same model"
        )
        steps.add("precheck", "failed", message)
        stop(f"nothing was changed: {message}")
    try:
        commands, left_alone = ios_config.transition_commands(before, target)
    except ios_config.TransitionError as err:
        steps.add("precheck", "failed", str(err))
        stop(f"nothing was changed: {err}")
    result["left_alone"] = [line.split(None, 1)[1] for line in left_alone]
    steps.add(
        "precheck",
        "ok",
        f"running config captured at {captured_at}; every interface of the backup exists on the device",
    )
    if left_alone:
        steps.add(
            "precheck",
            "warning",
            f"{len(left_alone)} port(s) not in the backup are left as they are: "
            + ", ".join(result["left_alone"][:8]),
        )
    result["commands"] = [steps.clean(c) for c in commands]
    if not commands:
        steps.add("plan", "ok", "nothing to do: the running config already matches the backup")
        result["verified"] = True
        seconds(to_verified=time.monotonic(), total=time.monotonic())
        module.exit_json(steps=steps.items, **result)
    steps.add(
        "plan",
        "planned" if module.check_mode else "ok",
        f"{len(commands)} configuration lines turn the running config into the backup",
        commands=commands,
    )
    if module.check_mode:
        result["changed"] = True
        seconds(total=time.monotonic())
        module.exit_json(steps=steps.items, dry_run=True, **result)

    outcome = apply_change(session, steps, before, captured_at, target, commands, save=p["save"])
    if outcome["verified"]:
        seconds(to_verified=time.monotonic())
    error = outcome.pop("error")
    result.update(outcome)
    if error:
        restored = (
            "rolled back: the device is exactly as before"
            if outcome["rollback_verified"]
            else "the ROLLBACK DID NOT RESTORE the previous config: see the steps and restore it by hand"
        )
        stop(f"the push failed and was {restored}. Cause: {error}")
    seconds(total=time.monotonic())
    module.exit_json(steps=steps.items, **result)


def main():
    argument_spec = dict(CONNECTION_ARGUMENT_SPEC)
    argument_spec.update(
        src={"type": "path", "required": True},
        vault_password_file={"type": "path", "no_log": False},
        hostname={"type": "str"},
        mgmt_interface={"type": "str"},
        mgmt_address={"type": "str"},
        save={"type": "bool", "default": True},
        mask={"type": "list", "elements": "str", "default": [], "no_log": True},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_together=[("mgmt_interface", "mgmt_address")],
    )
    if not HAS_NETMIKO:
        module.fail_json(msg=missing_required_lib("netmiko"), exception=str(NETMIKO_IMPORT_ERROR))
    p = module.params
    steps = Steps(secrets=[p["password"], p["secret"], *p["mask"]])
    session = session_from_params(p)
    try:
        run(module, session, steps)
    finally:
        session.close()


if __name__ == "__main__":
    main()
