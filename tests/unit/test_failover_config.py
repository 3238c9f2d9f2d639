"""plugins/module_utils/ios_config.py and switch_change.py: configuration text logic of the failover
and backup modules (transitions, rollback commands, uplink plans, sanitizing, identity)."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))  # ansible_collections.hisguard.infosec -> the checkout

from ansible_collections.hisguard.infosec.plugins.module_utils import ios_config as ic  # noqa: E402
from ansible_collections.hisguard.infosec.plugins.module_utils import switch_change as sc  # noqa: E402

SEED = """\
Building configuration...

Current configuration : 900 bytes
version 15.2
!
hostname access-sw-01
!
vlan 10
 name OUTPATIENT
!
vlan 99
 name MGMT
!
interface GigabitEthernet1/0/1
 description OUTPATIENT clinic workstation
 switchport access vlan 10
 switchport mode access
!
interface GigabitEthernet1/0/2
 description UNUSED
 switchport access vlan 99
 switchport mode access
 shutdown
!
interface TenGigabitEthernet1/0/1
 description UPLINK-PRIMARY fiber to core-sw-01 Gi1/1/1
 switchport trunk allowed vlan 10,99
 switchport mode trunk
!
interface TenGigabitEthernet1/0/2
 description UPLINK-BACKUP fiber to spare-sw-01 Te1/0/2
 switchport trunk allowed vlan 10,99
 switchport mode trunk
 shutdown
!
interface Vlan99
 description MGMT
 ip address 10.99.0.11 255.255.255.0
!
ip route 0.0.0.0 0.0.0.0 10.99.0.2
!
end
"""

PRIMARY, BACKUP = "TenGigabitEthernet1/0/1", "TenGigabitEthernet1/0/2"


def test_config_body_drops_the_exec_header_only():
    body = ic.config_body(SEED)
    assert body.startswith("version 15.2\n!\nhostname access-sw-01\n")
    assert body.endswith("end\n")
    assert ic.config_body("") == ""


def test_normalized_lines_ignore_volatile_lines():
    noisy = SEED.replace("version 15.2", "version 15.2\n! Last configuration change at 10:00:01 UTC")
    noisy = noisy.replace("hostname access-sw-01", "hostname access-sw-01\nntp clock-period 36028797")
    assert ic.same_config(SEED, noisy)
    assert ic.normalized_lines(SEED)[:3] == ["hostname access-sw-01", "vlan 10", " name OUTPATIENT"]


def test_transition_is_empty_between_equal_configs():
    assert ic.transition_commands(SEED, SEED) == ([], [])


def test_transition_replaces_single_values_and_negates_the_rest():
    target = SEED.replace(" switchport access vlan 10\n", " switchport access vlan 20\n").replace(
        " description OUTPATIENT clinic workstation\n", ""
    )
    target = target.replace(
        "interface GigabitEthernet1/0/2\n description UNUSED\n", "interface GigabitEthernet1/0/2\n"
    )
    commands, left = ic.transition_commands(SEED, target)
    assert commands == [
        "interface GigabitEthernet1/0/1",
        "no description OUTPATIENT clinic workstation",
        "switchport access vlan 20",
        "exit",
        "interface GigabitEthernet1/0/2",
        "no description UNUSED",
    ]
    assert left == []


def test_transition_adds_and_removes_sections_in_global_mode():
    target = SEED.replace("vlan 99\n name MGMT\n", "vlan 99\n name MGMT\n!\nvlan 40\n name LAB\n")
    target = target.replace("ip route 0.0.0.0 0.0.0.0 10.99.0.2\n", "ip route 0.0.0.0 0.0.0.0 10.99.0.1\n")
    target += "interface Vlan40\n ip address 10.40.0.1 255.255.255.0\n"
    commands, _ = ic.transition_commands(SEED, target)
    assert commands == [
        "no ip route 0.0.0.0 0.0.0.0 10.99.0.2",
        "vlan 40",
        "name LAB",
        "exit",
        "ip route 0.0.0.0 0.0.0.0 10.99.0.1",
        "interface Vlan40",
        "ip address 10.40.0.1 255.255.255.0",
    ]
    back, _ = ic.transition_commands(target, SEED)
    assert back == [
        "no interface Vlan40",
        "no ip route 0.0.0.0 0.0.0.0 10.99.0.1",
        "no vlan 40",
        "ip route 0.0.0.0 0.0.0.0 10.99.0.2",
    ]


def test_physical_ports_are_never_deleted_only_left_alone():
    target = SEED.replace(
        "interface GigabitEthernet1/0/2\n description UNUSED\n switchport access vlan 99\n"
        " switchport mode access\n shutdown\n!\n",
        "",
    )
    commands, left = ic.transition_commands(SEED, target)
    assert commands == []
    assert left == ["interface GigabitEthernet1/0/2"]


def test_a_differing_banner_cannot_be_sent_line_by_line():
    with_banner = SEED.replace(
        "hostname access-sw-01\n", "hostname access-sw-01\nbanner motd ^C\nAuthorized\n^C\n"
    )
    other = with_banner.replace("Authorized", "Authorised staff only")
    assert ic.same_config(with_banner, with_banner)
    with pytest.raises(ic.TransitionError, match="banner motd"):
        ic.transition_commands(with_banner, other)


def test_nested_sections_change_in_their_own_mode():
    current = "router ospf 1\n network 10.0.0.0 0.0.0.255 area 0\n passive-interface default\n"
    target = "router ospf 1\n network 10.0.0.0 0.0.0.255 area 0\n network 10.1.0.0 0.0.0.255 area 0\n"
    assert ic.transition_commands(current, target)[0] == [
        "router ospf 1",
        "no passive-interface default",
        "network 10.1.0.0 0.0.0.255 area 0",
    ]


# ------------------------------------------------------------------------------------- uplinks
def test_uplink_plan_shuts_the_active_port_first():
    plan = sc.uplink_plan(ic.config_body(SEED), PRIMARY, BACKUP, "failover")
    assert plan["problems"] == [] and not plan["done"]
    assert plan["commands"] == [
        f"interface {PRIMARY}",
        "shutdown",
        "exit",
        f"interface {BACKUP}",
        "no shutdown",
    ]
    assert plan["state"] == {
        "primary": {"port": PRIMARY, "shutdown": False},
        "backup": {"port": BACKUP, "shutdown": True},
    }
    after = plan["target"]
    assert sc.port_shut(after, PRIMARY) is True and sc.port_shut(after, BACKUP) is False
    back = sc.uplink_plan(after, PRIMARY, BACKUP, "failback")
    assert back["commands"] == [
        f"interface {BACKUP}",
        "shutdown",
        "exit",
        f"interface {PRIMARY}",
        "no shutdown",
    ]
    assert ic.same_config(back["target"], SEED)


def test_make_before_break_enables_the_other_port_first():
    plan = sc.uplink_plan(ic.config_body(SEED), PRIMARY, BACKUP, "failover", make_before_break=True)
    assert plan["commands"] == [
        f"interface {BACKUP}",
        "no shutdown",
        "exit",
        f"interface {PRIMARY}",
        "shutdown",
    ]


def test_uplink_plan_when_already_failed_over_does_nothing():
    after = sc.uplink_plan(ic.config_body(SEED), PRIMARY, BACKUP, "failover")["target"]
    plan = sc.uplink_plan(after, PRIMARY, BACKUP, "failover")
    assert plan["done"] and plan["commands"] == []


def test_uplink_plan_refuses_a_missing_or_differently_configured_backup():
    missing = sc.uplink_plan(SEED, PRIMARY, "TenGigabitEthernet1/0/9", "failover")
    assert missing["commands"] == []
    assert "no interface TenGigabitEthernet1/0/9 (the backup uplink)" in missing["problems"][0]
    odd = SEED.replace(
        " switchport trunk allowed vlan 10,99\n switchport mode trunk\n shutdown",
        " switchport mode trunk\n shutdown",
    )
    plan = sc.uplink_plan(odd, PRIMARY, BACKUP, "failover")
    assert plan["commands"] == []
    assert "not configured like the primary" in plan["problems"][0]
    assert f"{PRIMARY} only: switchport trunk allowed vlan 10,99" in plan["problems"][0]


def test_set_shutdown_requires_the_port():
    with pytest.raises(ValueError, match="no `interface Gi9/9` section"):
        ic.set_shutdown(SEED, "Gi9/9", True)


# ------------------------------------------------------------------------------------- steps
def test_steps_are_timestamped_and_sanitized():
    steps = sc.Steps(secrets=["S3cret-login-pw"])
    item = steps.add("apply", "ok", "sent S3cret-login-pw", commands=["username a secret 5 $1$abc$xyz", "x"])
    assert item["time"].endswith("Z") and len(item["time"]) == len("2025-03-04T02:15:07.412Z")
    assert item["detail"] == "sent <removed>"
    assert item["commands"] == ["username a secret 5 <removed>", "x"]
    assert steps.failed() == []


class FakeSession:
    """Stands in for SwitchSession: a running config that configure() edits through a tiny model."""

    def __init__(self, config, refuse=None, ignore=None):
        self.config = ic.config_body(config)
        self.refuse = refuse
        self.ignore = ignore
        self.saved = False
        self.reconnects = 0

    def running_config(self):
        return self.config

    def quiet_console(self):
        return True

    def configure(self, commands, stop_on_error=True):
        port = None
        applied = []
        for command in commands:
            if command == self.refuse:
                raise sc.SwitchError(f"refused `{command}`", command=command, applied=applied)
            if command.startswith("interface "):
                port = command.split(None, 1)[1]
            elif command in ("shutdown", "no shutdown") and command != self.ignore:
                self.config = ic.set_shutdown(self.config, port, command == "shutdown")
            applied.append(command)
        return ""

    def interface_state(self, name):
        return ("administratively down", "down") if sc.port_shut(self.config, name) else ("up", "up")

    def save(self):
        self.saved = True

    def reconnect(self):
        self.reconnects += 1


def _plan(session):
    return sc.uplink_plan(session.running_config(), PRIMARY, BACKUP, "failover")


def test_apply_change_verifies_and_saves():
    session = FakeSession(SEED)
    plan, steps = _plan(session), sc.Steps()
    check = lambda s: sc.wait_interface_up(s, BACKUP, 0)  # noqa: E731
    outcome = sc.apply_change(
        session, steps, ic.config_body(SEED), "t0", plan["target"], plan["commands"], [check]
    )
    assert outcome == {
        "changed": True,
        "verified": True,
        "saved": True,
        "rolled_back": False,
        "rollback_verified": None,
        "error": None,
    }
    assert [s["step"] for s in steps.items] == ["logging", "apply", "verify", "verify", "save"]
    assert session.saved


def test_a_refused_line_rolls_back_to_exactly_the_previous_config():
    session = FakeSession(SEED, refuse=f"interface {BACKUP}")
    plan, steps = _plan(session), sc.Steps()
    before = session.running_config()
    outcome = sc.apply_change(session, steps, before, "t0", plan["target"], plan["commands"])
    assert outcome["rolled_back"] and outcome["rollback_verified"] and not outcome["changed"]
    assert "applying the change failed" in outcome["error"]
    assert session.config == before and not session.saved
    apply_step = next(s for s in steps.items if s["step"] == "apply")
    assert apply_step["applied"] == [f"interface {PRIMARY}", "shutdown", "exit"]
    last = steps.items[-1]
    assert last["step"] == "rollback" and last["status"] == "ok"
    assert last["commands"] == [f"interface {PRIMARY}", "no shutdown"]
    assert "identical to the one captured at t0" in last["detail"]


def test_a_line_accepted_but_not_applied_fails_verification_and_rolls_back():
    session = FakeSession(SEED, ignore="no shutdown")
    plan, steps = _plan(session), sc.Steps()
    before = session.running_config()
    outcome = sc.apply_change(session, steps, before, "t0", plan["target"], plan["commands"])
    assert outcome["error"].startswith("verification failed")
    verify = next(s for s in steps.items if s["step"] == "verify")
    assert verify["remaining"] == [f"interface {BACKUP}", "no shutdown"]
    # the emulator ignores `no shutdown`, so the rollback cannot re-enable the primary: said loudly
    assert outcome["rollback_verified"] is False
    assert steps.items[-1]["status"] == "failed"
    assert "still differs" in steps.items[-1]["detail"]


def test_a_port_that_stays_down_fails_the_post_check():
    session = FakeSession(SEED)
    plan, steps = _plan(session), sc.Steps()
    outcome = sc.apply_change(
        session,
        steps,
        session.running_config(),
        "t0",
        plan["target"],
        plan["commands"],
        checks=[lambda s: (False, f"{BACKUP} is up, line protocol is down after 0 s")],
    )
    assert outcome["rolled_back"] and outcome["rollback_verified"]
    assert "line protocol is down" in outcome["error"]
    assert ic.same_config(session.config, SEED)


# ------------------------------------------------------------------------------------- identity
def test_adjust_identity_sets_hostname_and_management_address():
    out = ic.adjust_identity(SEED, "spare-sw-01", "Vlan99", "10.99.0.12")
    assert "hostname spare-sw-01\n" in out and "hostname access-sw-01" not in out
    assert " ip address 10.99.0.12 255.255.255.0\n" in out
    assert " ip address 10.99.1.5 255.255.254.0\n" in ic.adjust_identity(SEED, None, "Vlan99", "10.99.1.5/23")
    with pytest.raises(ValueError, match="no `interface Vlan20` section"):
        ic.adjust_identity(SEED, None, "Vlan20", "10.0.0.1")
    with pytest.raises(ValueError):
        ic.adjust_identity(SEED, None, "Vlan99", "not-an-address")


def test_interface_names_are_the_physical_ports():
    assert ic.interface_names(SEED) == ["GigabitEthernet1/0/1", "GigabitEthernet1/0/2", PRIMARY, BACKUP]
    assert "Vlan99" in ic.interface_names(SEED, physical_only=False)


def test_module_utils_import_without_ansible_collections_path():
    """netmiko_device.py stays loadable on its own (its own tests import it by file path)."""
    spec = importlib.util.spec_from_file_location("nd", ROOT / "plugins/module_utils/netmiko_device.py")
    nd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nd)
    assert nd.config_text("Building configuration...\n\nversion 15.2\nend\n\n") == "version 15.2\nend\n"
    assert nd.parse_interface_state("Te1/1/2 is administratively down, line protocol is down\n") == (
        "administratively down",
        "down",
    )
