# Copyright: hisguard contributors
# Apache License 2.0 (see LICENSE)
"""A configuration change on a switch that is verified, saved, and rolled back on any failure.

Used by hisguard.infosec.uplink_failover and hisguard.infosec.switch_config_push:

    steps = Steps()
    before = session.running_config()                   # captured before anything changes
    target = ...                                         # the configuration wanted
    commands, _ = ios_config.transition_commands(before, target)
    outcome = apply_change(session, steps, before, target, commands, checks=[...])

Every step is timestamped (UTC, milliseconds) so the run can be written into an incident timeline.
Everything a step carries is sanitized: no password or key leaves this module in a step.
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.hisguard.infosec.plugins.module_utils import ios_config
from ansible_collections.hisguard.infosec.plugins.module_utils.netmiko_device import SwitchError


def utc_now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Steps:
    """Timestamped record of what was done: [{time, step, status, detail, ...}]."""

    def __init__(self, secrets=()):
        self.items = []
        self.secrets = [s for s in secrets if s]

    def add(self, step, status, detail, **extra):
        """status: ok | failed | planned | skipped | warning."""
        item = {"time": utc_now(), "step": step, "status": status, "detail": self.clean(detail)}
        for key, value in extra.items():
            if isinstance(value, list):
                value = [self.clean(v) for v in value]
            elif isinstance(value, str):
                value = self.clean(value)
            item[key] = value
        self.items.append(item)
        return item

    def clean(self, text):
        return ios_config.sanitize(text, self.secrets) if isinstance(text, str) else text

    def failed(self):
        return [s for s in self.items if s["status"] == "failed"]


def remaining_commands(running, target):
    """Commands still needed to reach `target` ([] when the running configuration matches it)."""
    commands, _ = ios_config.transition_commands(running, target)
    return commands


def wait_interface_up(session, port, seconds):
    """(ok, detail): waits up to `seconds` for `show interfaces PORT` to say `line protocol is up`."""
    deadline = time.monotonic() + max(0, seconds)
    while True:
        admin, protocol = session.interface_state(port)
        if admin == "up" and protocol == "up":
            return True, f"{port} is up, line protocol is up"
        if time.monotonic() >= deadline:
            return False, (
                f"{port} is {admin or 'in an unknown state'}, line protocol is {protocol or 'unknown'} "
                f"after {seconds} s"
            )
        time.sleep(1)


def rollback(session, steps, before, captured_at, reason, startup_touched=False):
    """Bring the running configuration back to `before`; True when verified identical."""
    steps.add("rollback", "ok", f"rolling back: {reason}")
    try:
        try:
            current = session.running_config()
        except SwitchError:
            session.reconnect()  # a timeout can leave the session unusable; a new one is clean
            current = session.running_config()
        try:
            commands, _ = ios_config.transition_commands(current, before)
        except ios_config.TransitionError as err:
            steps.add("rollback", "failed", f"cannot compute the rollback: {err}; restore by hand")
            return False
        if commands:
            try:
                session.configure(commands, stop_on_error=False)
            except SwitchError as err:
                steps.add("rollback", "warning", err.message, commands=commands)
        after = session.running_config()
    except SwitchError as err:
        steps.add(
            "rollback",
            "failed",
            f"rollback failed: {err.message}; restore the configuration captured at {captured_at} by hand",
        )
        return False
    diff = ios_config.differences(before, after, "before the change", "after the rollback")
    if diff:
        steps.add(
            "rollback",
            "failed",
            f"after the rollback the running config still differs from the one captured at {captured_at}",
            commands=commands,
            diff=diff[:80],
        )
        return False
    startup = (
        "the failed save may have changed the startup config: check `show startup-config`"
        if startup_touched
        else "the startup config was not changed"
    )
    steps.add(
        "rollback",
        "ok",
        f"rolled back: the running config is identical to the one captured at {captured_at} ({startup})",
        commands=commands,
    )
    return True


def apply_change(session, steps, before, captured_at, target, commands, checks=(), save=True):
    """Apply `commands`, verify the running config equals `target` and run each check
    (callable(session) -> (ok, detail)), then `write memory`. On any failure: roll back to `before`.

    Returns {changed, verified, saved, rolled_back, rollback_verified, error}.
    """
    outcome = {
        "changed": False,
        "verified": False,
        "saved": False,
        "rolled_back": False,
        "rollback_verified": None,
        "error": None,
    }

    def fail(message, startup_touched=False):
        outcome["error"] = message
        outcome["rolled_back"] = True
        outcome["rollback_verified"] = rollback(session, steps, before, captured_at, message, startup_touched)
        outcome["changed"] = not outcome["rollback_verified"]
        return outcome

    if session.quiet_console():
        steps.add("logging", "ok", "log messages to this session are off (terminal no monitor)")
    else:
        steps.add("logging", "skipped", "the device does not accept `terminal no monitor`; continuing")

    try:
        session.configure(commands)
    except SwitchError as err:
        steps.add("apply", "failed", err.message, commands=commands, applied=err.applied)
        return fail(f"applying the change failed: {err.message}")
    outcome["changed"] = True
    steps.add("apply", "ok", f"{len(commands)} configuration lines applied", commands=commands)

    try:
        after = session.running_config()
        left = remaining_commands(after, target)
        if left:
            diff = ios_config.differences(target, after, "expected", "running")
            steps.add(
                "verify",
                "failed",
                "the running config differs from the expected one (the device accepted a line "
                "without applying it?)",
                remaining=left,
                diff=diff[:80],
            )
            return fail("verification failed: the running config is not the expected one")
        steps.add("verify", "ok", "the running config is the expected one")
        for check in checks:
            ok, detail = check(session)
            if not ok:
                steps.add("verify", "failed", detail)
                return fail(f"verification failed: {detail}")
            steps.add("verify", "ok", detail)
    except SwitchError as err:
        steps.add("verify", "failed", err.message)
        return fail(f"verification failed: {err.message}")
    outcome["verified"] = True

    if not save:
        steps.add("save", "skipped", "not saved (save=false): the change is lost at the next reload")
        return outcome
    try:
        session.save()
    except SwitchError as err:
        steps.add("save", "failed", err.message)
        return fail(f"saving failed: {err.message}", startup_touched=True)
    outcome["saved"] = True
    steps.add("save", "ok", "running config saved to the startup config (write memory)")
    return outcome


# ---------------------------------------------------------------------------------------- uplinks
def port_shut(text, port):
    """True/False: whether `interface <port>` is shut down in `text`; None when there is no such port."""
    settings = ios_config.port_settings(text, port)
    if settings is None:
        return None
    return "shutdown" in [line.strip() for line in settings]


def uplink_plan(before, primary, backup, direction, make_before_break=False):
    """What moving the traffic to the other uplink takes, from the running config `before`.

    direction `failover`: primary shut down, backup enabled; `failback`: the reverse. The active
    port is shut before the other is enabled (never two active uplinks), unless `make_before_break`
    (the controller reaches the switch through the port being shut; spanning tree must be on).
    Returns {state, problems, done, target, commands, activate, deactivate}; `problems` (a list of
    messages) is non-empty when the change must not be made; `done` when there is nothing to do.
    """
    state = {"primary": {"port": primary, "shutdown": port_shut(before, primary)}}
    state["backup"] = {"port": backup, "shutdown": port_shut(before, backup)}
    activate, deactivate = (backup, primary) if direction == "failover" else (primary, backup)
    plan = {
        "state": state,
        "problems": [],
        "done": False,
        "target": None,
        "commands": [],
        "activate": activate,
        "deactivate": deactivate,
    }
    for role, port in (("primary", primary), ("backup", backup)):
        if state[role]["shutdown"] is None:
            plan["problems"].append(
                f"the device has no interface {port} (the {role} uplink): check "
                f"hisguard_switch_{role}_uplink in the inventory"
            )
    if plan["problems"]:
        return plan
    mismatch = ios_config.compare_ports(before, primary, backup)
    if mismatch:
        plan["problems"].append(
            "the backup uplink is not configured like the primary (it would not carry the same "
            "VLANs): " + "; ".join(mismatch) + ". Fix the backup port's configuration first"
        )
        return plan
    target = ios_config.set_shutdown(before, deactivate, True)
    target = ios_config.set_shutdown(target, activate, False)
    plan["target"] = target
    commands, _ = ios_config.transition_commands(before, target)
    plan["commands"] = _order_blocks(commands, shut_first=not make_before_break)
    plan["done"] = not plan["commands"]
    return plan


def _order_blocks(commands, shut_first=True):
    """Interface blocks that shut a port before (or after) the blocks that enable one."""
    blocks, current = [], []
    for line in commands:
        if line.startswith("interface ") and current:
            blocks.append(current)
            current = []
        current.append(line)
    if current:
        blocks.append(current)
    blocks.sort(
        key=lambda block: (
            (0 if "shutdown" in block else 1) if shut_first else (1 if "shutdown" in block else 0)
        )
    )
    out = []
    for block in blocks:
        block = [line for line in block if line != "exit"]
        out += [*block, "exit"]
    return out[:-1] if out else out
