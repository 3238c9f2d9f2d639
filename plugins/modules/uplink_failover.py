# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: uplink_failover
short_description: Move a switch's traffic from its primary fiber uplink to the backup one, and back
version_added: "0.1.0"
description:
  - Implements the spare-fiber part of article P3.8.3 (备用光纤) over SSH with netmiko, on the
    controller (use it with C(delegate_to) C(localhost)).
  - "Pre-check: reads the running configuration, checks that both uplink ports exist and that the
    backup port is configured like the primary (same switchport mode, VLANs, encapsulation;
    description and shutdown aside)."
  - "Plan: the exact configuration lines, shutting the active port before enabling the other one
    (never two active uplinks). In check mode the module stops here and changes nothing."
  - "Apply: turns off log messages to the session (C(terminal no monitor)), sends the lines one at
    a time and stops at the first line the device refuses."
  - "Post-check: the running configuration must be exactly the expected one and the newly active
    port must report C(line protocol is up) within O(wait_up) seconds. Then C(write memory)."
  - On any failure after the first line was sent (a refused line, a timeout, a failed
    verification or save) the running configuration is rolled back to the one captured in the
    pre-check, and the module checks that it is identical again. The task fails and says so.
  - Every step is returned with a UTC timestamp (RV(steps)), for the incident timeline and the
    recovery record (P3.8.4).
extends_documentation_fragment:
  - hisguard.infosec.switch_connection
options:
  primary_port:
    description: The primary uplink port (abbreviations such as C(Te1/1/1) are accepted).
    type: str
    required: true
  backup_port:
    description: The backup uplink port (the spare fiber).
    type: str
    required: true
  direction:
    description:
      - C(failover) shuts the primary port down and enables the backup one; C(failback) does the
        reverse.
    type: str
    choices: [failover, failback]
    default: failover
  make_before_break:
    description:
      - Enable the other port before shutting the active one. Use it when the controller reaches the
        switch's management address through the uplink being shut (in-band management), so the
        session does not drop half-way; spanning tree must protect against the moment with two
        active uplinks.
      - By default the active port is shut first (never two active uplinks).
    type: bool
    default: false
  wait_up:
    description: Seconds to wait for the newly active port's line protocol to come up.
    type: int
    default: 10
  save:
    description: Save the verified change to the startup configuration (C(write memory)).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: In check mode the module reads the device and returns the plan; it sends no configuration.
  diff_mode:
    support: none
notes:
  - Nothing is sent when the pre-check fails (unreachable device, refused login, unknown host key,
    a missing port, a backup port configured differently); the task fails with a message that
    names what to fix.
  - When the ports are already in the wanted state the module changes nothing (C(changed=false)).
seealso:
  - module: hisguard.infosec.switch_config_backup
  - module: hisguard.infosec.switch_config_push
author:
  - hisguard developers
"""

EXAMPLES = r"""
- name: P3.8.3 | FAILOVER | move the core switch to its backup fiber
  hisguard.infosec.uplink_failover:
    host: "{{ ansible_host }}"
    port: "{{ ansible_port | default(22) }}"
    username: "{{ ansible_user }}"
    password: "{{ ansible_password }}"
    secret: "{{ ansible_become_password }}"
    known_hosts: "{{ hisguard_switch_known_hosts | default(omit) }}"
    primary_port: "{{ hisguard_switch_primary_uplink }}"
    backup_port: "{{ hisguard_switch_backup_uplink }}"
    direction: failover
  delegate_to: localhost
  register: failover

- name: P3.8.3 | FAILOVER | back to the primary fiber once it is repaired
  hisguard.infosec.uplink_failover:
    host: "{{ ansible_host }}"
    username: "{{ ansible_user }}"
    password: "{{ ansible_password }}"
    secret: "{{ ansible_become_password }}"
    primary_port: Te1/1/1
    backup_port: Te1/1/2
    direction: failback
  delegate_to: localhost
"""

RETURN = r"""
steps:
  description:
    - What was done, in order; C(status) is C(ok), C(planned), C(skipped), C(warning) or C(failed).
      C(commands) holds the configuration lines of the C(plan), C(apply) and C(rollback) steps.
  returned: always
  type: list
  elements: dict
  sample:
    - time: "2025-03-04T02:15:07.412Z"
      step: connect
      status: ok
      detail: SSH 10.99.0.2:22, privileged mode
    - time: "2025-03-04T02:15:07.690Z"
      step: apply
      status: ok
      detail: 5 configuration lines applied
      commands: [interface Te1/1/1, shutdown, exit, interface Te1/1/2, no shutdown]
commands:
  description: The configuration lines of the plan (sent unless in check mode or nothing to do).
  returned: always
  type: list
  elements: str
state_before:
  description: Shutdown state of both uplink ports before the change.
  returned: when the running configuration was read
  type: dict
  sample:
    primary: {port: TenGigabitEthernet1/1/1, shutdown: false}
    backup: {port: TenGigabitEthernet1/1/2, shutdown: true}
state_after:
  description: Shutdown state of both uplink ports at the end (after a rollback, the restored state).
  returned: when the change was applied
  type: dict
verified:
  description: The running configuration is the expected one and the active port is up.
  returned: always
  type: bool
saved:
  description: The change was saved to the startup configuration.
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

import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402
from ansible_collections.hisguard.infosec.plugins.module_utils.netmiko_device import (  # noqa: E402
    CONNECTION_ARGUMENT_SPEC,
    HAS_NETMIKO,
    NETMIKO_IMPORT_ERROR,
    SwitchError,
    canonical_interface,
    session_from_params,
)
from ansible_collections.hisguard.infosec.plugins.module_utils.switch_change import (  # noqa: E402
    Steps,
    apply_change,
    port_shut,
    uplink_plan,
    utc_now,
    wait_interface_up,
)


def describe(state):
    def one(role):
        entry = state[role]
        if entry["shutdown"] is None:
            return f"{role} {entry['port']} missing"
        return f"{role} {entry['port']} {'shutdown' if entry['shutdown'] else 'enabled'}"

    return ", ".join(one(role) for role in ("primary", "backup"))


def run(module, session, steps):
    p = module.params
    started = time.monotonic()
    result = {
        "changed": False,
        "commands": [],
        "direction": p["direction"],
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
        session.open()
    except SwitchError as err:
        steps.add("connect", "failed", err.message)
        stop(f"nothing was changed: {err.message}")
    steps.add("connect", "ok", f"SSH {p['host']}:{p['port']}, privileged mode")
    primary, backup = canonical_interface(p["primary_port"]), canonical_interface(p["backup_port"])
    try:
        before = session.running_config()
        captured_at = utc_now()
    except SwitchError as err:
        steps.add("precheck", "failed", err.message)
        stop(f"nothing was changed: {err.message}")
    plan = uplink_plan(before, primary, backup, p["direction"], p["make_before_break"])
    result["state_before"] = plan["state"]
    if plan["problems"]:
        steps.add("precheck", "failed", "; ".join(plan["problems"]))
        stop("nothing was changed: " + "; ".join(plan["problems"]))
    steps.add(
        "precheck",
        "ok",
        f"running config captured at {captured_at}: {describe(plan['state'])}; "
        "the backup port is configured like the primary",
    )
    if plan["done"]:
        steps.add(
            "plan",
            "ok",
            f"nothing to do: {plan['activate']} is already enabled and {plan['deactivate']} shut down",
        )
        result["verified"] = True
        result["state_after"] = plan["state"]
        seconds(to_verified=time.monotonic(), total=time.monotonic())
        module.exit_json(steps=steps.items, **result)
    result["commands"] = plan["commands"]
    order = (
        f"enable {plan['activate']}, then shut {plan['deactivate']} down"
        if p["make_before_break"]
        else f"shut {plan['deactivate']} down, then enable {plan['activate']}"
    )
    steps.add(
        "plan",
        "planned" if module.check_mode else "ok",
        f"{order}: {len(plan['commands'])} configuration lines",
        commands=plan["commands"],
    )
    if module.check_mode:
        result["changed"] = True
        seconds(total=time.monotonic())
        module.exit_json(steps=steps.items, dry_run=True, **result)

    def active_port_up(sess):
        return wait_interface_up(sess, plan["activate"], p["wait_up"])

    outcome = apply_change(
        session,
        steps,
        before,
        captured_at,
        plan["target"],
        plan["commands"],
        checks=[active_port_up],
        save=p["save"],
    )
    if outcome["verified"]:
        seconds(to_verified=time.monotonic())
    error = outcome.pop("error")
    result.update(outcome)
    try:
        after = session.running_config()
        result["state_after"] = {
            role: {"port": port, "shutdown": port_shut(after, port)}
            for role, port in (("primary", primary), ("backup", backup))
        }
    except SwitchError as err:
        steps.add("report", "warning", f"could not read the final state: {err.message}")
    if error:
        restored = (
            "rolled back: the device is exactly as before"
            if outcome["rollback_verified"]
            else "the ROLLBACK DID NOT RESTORE the previous config: see the steps and restore it by hand"
        )
        stop(f"{p['direction']} failed and was {restored}. Cause: {error}")
    seconds(total=time.monotonic())
    module.exit_json(steps=steps.items, **result)


def main():
    argument_spec = dict(CONNECTION_ARGUMENT_SPEC)
    argument_spec.update(
        primary_port={"type": "str", "required": True},
        backup_port={"type": "str", "required": True},
        direction={"type": "str", "choices": ["failover", "failback"], "default": "failover"},
        make_before_break={"type": "bool", "default": False},
        wait_up={"type": "int", "default": 10},
        save={"type": "bool", "default": True},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_NETMIKO:
        module.fail_json(msg=missing_required_lib("netmiko"), exception=str(NETMIKO_IMPORT_ERROR))
    steps = Steps(secrets=[module.params["password"], module.params["secret"]])
    session = session_from_params(module.params)
    try:
        run(module, session, steps)
    finally:
        session.close()


if __name__ == "__main__":
    main()
