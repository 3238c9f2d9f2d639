"""Run one emulated Cisco IOS switch of the lab (fake-switches) over SSH on 127.0.0.1.

    python -m hisguard.lab.fakeswitch --name core-sw-01 --port 2221 \
        --credentials STATE/secrets/switch_credentials.yml --state-dir STATE [--reject-command REGEX]

Normally started by `hisguard lab up` (hisguard.lab.switches). On top of fake-switches' cisco model:
- login, password and enable secret come from the credentials file (0600/0400), compared in
  constant time; an empty or wrong enable secret is refused ("% Bad secrets");
- `end`, `disable`, `show privilege`, `show version` / `show inventory` that cisco.ios parses,
  `show ip interface brief`, `show interfaces [status|X]`, `show vlan [brief]` without trunk
  ports, `hostname`, `write memory` and `copy running-config startup-config` (both persist to
  STATE/switches/NAME.startup.yml, loaded at the next start; `show startup-config` prints it);
- configuration commands matching a reject rule (--reject-command, or one regex per line in
  STATE/switches/NAME.reject, re-read when it changes) answer "% Invalid input" and change nothing;
- a command that crashes the emulator answers "% Invalid input" instead of dropping the session;
- every command is logged to stdout (the switch's log); the password prompts are not, and the
  passwords are masked from every log line.
"""

import argparse
import hashlib
import hmac
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fake_switches.cisco.cisco_core import BaseCiscoSwitchCore, CiscoShellSession
from fake_switches.cisco.command_processor.config import ConfigCommandProcessor
from fake_switches.cisco.command_processor.config_interface import (
    ConfigInterfaceCommandProcessor,
    parse_vlan_list,
)
from fake_switches.cisco.command_processor.config_vlan import ConfigVlanCommandProcessor
from fake_switches.cisco.command_processor.config_vrf import ConfigVRFCommandProcessor
from fake_switches.cisco.command_processor.default import DefaultCommandProcessor
from fake_switches.cisco.command_processor.enabled import (
    EnabledCommandProcessor,
    build_running_interface,
    build_running_vlan,
    build_static_routes,
)
from fake_switches.cisco.command_processor.piping import PipingProcessor
from fake_switches.switch_configuration import Port, SwitchConfiguration
from fake_switches.transports.ssh_service import SSHDemoRealm
from netaddr import IPNetwork
from twisted.conch.ssh import factory, keys
from twisted.cred import credentials, error, portal
from twisted.cred.checkers import ICredentialsChecker
from twisted.internet import defer
from twisted.logger import STDLibLogObserver, globalLogBeginner
from zope.interface import implementer

from hisguard.errors import UserError
from hisguard.lab import switches

INVALID_INPUT = "% Invalid input detected at '^' marker.\n\n"
log = logging.getLogger("fakeswitch")


# ----------------------------------------------------------------------------- configuration as data
def build_configuration(config: dict[str, Any]) -> SwitchConfiguration:
    """A fake-switches configuration from a seed or saved config (see switches/core-sw-01.yml)."""
    conf = SwitchConfiguration("127.0.0.1", name=config["hostname"])
    for number, name in config["vlans"].items():
        if int(number) != 1:  # the cisco core adds VLAN 1 itself
            conf.add_vlan(conf.new("Vlan", int(number), name))
    for key, settings in config["ports"].items():
        for port_name in switches.expand_range(key):
            port = conf.new("Port", port_name)
            _apply_port_settings(port, settings or {})
            conf.add_port(port)
    for vlan_id, svi in (config.get("svis") or {}).items():
        port = conf.new("VlanPort", int(vlan_id), f"Vlan{int(vlan_id)}")
        port.description = svi.get("description")
        port.shutdown = True if svi.get("shutdown") else None
        addresses = svi.get("addresses") or ([svi["address"]] if svi.get("address") else [])
        for address in addresses:
            port.add_ip(IPNetwork(address))
        conf.add_port(port)
    for route in config.get("routes") or []:
        net = IPNetwork(route["prefix"])
        conf.add_static_route(conf.new("Route", str(net.ip), str(net.netmask), route["next_hop"]))
    return conf


def _apply_port_settings(port: Port, settings: dict[str, Any]) -> None:
    port.description = settings.get("description")
    port.mode = settings.get("mode")
    port.access_vlan = settings.get("vlan")
    port.trunk_encapsulation_mode = settings.get("encapsulation")
    port.trunk_native_vlan = settings.get("native_vlan")
    trunk = settings.get("trunk_vlans")
    port.trunk_vlans = parse_vlan_list(str(trunk)) if isinstance(trunk, str | int) else trunk
    port.shutdown = True if settings.get("shutdown") else None


def snapshot(conf: SwitchConfiguration) -> dict[str, Any]:
    """The running configuration in the seed's format (what `write memory` saves)."""
    ports: dict[str, dict[str, Any]] = {}
    for port in conf.get_physical_ports():
        entry = {
            "description": port.description,
            "mode": port.mode,
            "vlan": port.access_vlan,
            "encapsulation": port.trunk_encapsulation_mode,
            "native_vlan": port.trunk_native_vlan,
            "trunk_vlans": list(port.trunk_vlans) if port.trunk_vlans is not None else None,
            "shutdown": bool(port.shutdown),
        }
        ports[port.name] = {k: v for k, v in entry.items() if v is not None}
    svis = {}
    for svi in conf.get_vlan_ports():
        entry = {
            "description": svi.description,
            "shutdown": bool(svi.shutdown),
            "addresses": [str(ip) for ip in svi.ips],
        }
        svis[svi.vlan_id] = {k: v for k, v in entry.items() if v is not None}
    return {
        "hostname": conf.name,
        "vlans": {v.number: v.name for v in sorted(conf.vlans, key=lambda v: v.number) if v.number != 1},
        "ports": ports,
        "svis": svis,
        "routes": [{"prefix": str(r.dest), "next_hop": str(r.next_hop)} for r in conf.static_routes],
    }


def render_config(conf: SwitchConfiguration, version: str) -> str:
    """IOS-style configuration text (what `show running-config` prints after its header)."""
    major_minor = re.match(r"\d+\.\d+", version)
    lines = [f"version {major_minor[0] if major_minor else '15.2'}", "!", f"hostname {conf.name}", "!", "!"]
    for vlan in sorted(conf.vlans, key=lambda v: v.number):
        lines += [*build_running_vlan(vlan), "!"]
    for port in conf.get_physical_ports() + conf.get_vlan_ports():
        lines += [*build_running_interface(port), "!"]
    if conf.static_routes:
        lines += [build_static_routes(route) for route in conf.static_routes] + ["!"]
    return "\n".join([*lines, "end", ""])


def _short(name: str) -> str:
    match = re.match(r"([A-Za-z-]+)(.*)", name)
    return match[1][:2] + match[2] if match else name


# -------------------------------------------------------------------------------------- reject rules
class RejectRules:
    """Regexes of configuration commands to refuse: fixed ones plus a file re-read on change."""

    def __init__(self, fixed: list[re.Pattern[str]], path: Path):
        self.fixed = fixed
        self.path = path
        self.from_file: list[re.Pattern[str]] = []
        self._seen: tuple[int, int] | None = None

    def match(self, line: str) -> str | None:
        self._reload()
        command = line.strip()
        for pattern in self.fixed + self.from_file:
            if pattern.search(command):
                return pattern.pattern
        return None

    def _reload(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self.from_file, self._seen = [], None
            return
        if self._seen == (st.st_mtime_ns, st.st_size):
            return
        self._seen = (st.st_mtime_ns, st.st_size)
        rules = []
        for raw in self.path.read_text(encoding="utf-8").splitlines():
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            try:
                rules.append(re.compile(text))
            except re.error as err:
                log.warning("ignoring invalid reject rule %r in %s: %s", text, self.path, err)
        self.from_file = rules
        log.info("reject rules from %s: %s", self.path, [r.pattern for r in rules] or "none")


# ------------------------------------------------------------------------------------ CLI processors
class LabUserProcessor(DefaultCommandProcessor):
    """User EXEC mode (`name>`): the enable secret is checked strictly."""

    def __init__(self, enabled: "LabEnabledProcessor", enable_secret: str, session_log: logging.Logger):
        super().__init__(enabled)
        self.enable_secret = enable_secret.encode()
        self.session_log = session_log

    def do_enable(self, *_args):
        self.write("Password: ")
        self.replace_input = ""
        self.continue_to(self.continue_enabling)

    def continue_enabling(self, line):
        self.replace_input = False
        if hmac.compare_digest(line.encode(), self.enable_secret):
            self.move_to(self.enabled_processor)
        else:
            self.session_log.warning("enable refused: wrong enable secret")
            self.write("% Bad secrets\n\n")

    def delegate_to_sub_processor(self, line):
        processed = self.sub_processor.process_command(line)
        if self.sub_processor.is_done:
            if getattr(self.sub_processor, "disabled", False):  # `disable`: back to user EXEC
                self.sub_processor = None
                self.show_prompt()
            else:  # `exit` / `logout` from privileged EXEC ends the session
                self.is_done = True
        return processed

    def do_terminal(self, *_args):
        pass

    def do_show(self, *args):
        if args and "privilege".startswith(args[0]):
            self.write("Current privilege level is 1\n")
        else:
            self.write(INVALID_INPUT)

    def do_exit(self, *_args):
        self.is_done = True

    do_logout = do_exit


class LabEnabledProcessor(EnabledCommandProcessor):
    """Privileged EXEC mode (`name#`)."""

    def __init__(
        self,
        config: "LabConfigProcessor",
        platform: dict[str, Any],
        on_save: Callable[[], None],
        startup: Callable[[], dict[str, Any]],
    ):
        super().__init__(config)
        self.platform = platform
        self.on_save = on_save
        self.startup = startup
        self.disabled = False

    def init(self, *args):
        super().init(*args)
        self.disabled = False

    def do_disable(self, *_args):
        self.disabled = True
        self.is_done = True

    def do_exit(self, *_args):
        self.is_done = True

    do_logout = do_exit

    def do_show(self, *args):
        if not args:
            self.write("% Incomplete command.\n\n")
            return
        word, rest = args[0], args[1:]
        if "privilege".startswith(word):
            self.write_line("Current privilege level is 15")
        elif "version".startswith(word):
            self.write(self.version_text())
        elif "inventory".startswith(word):
            self.write(self.inventory_text())
        elif (
            "ip".startswith(word)
            and len(rest) == 2
            and "interface".startswith(rest[0])
            and "brief".startswith(rest[1])
        ):
            self.write(self.ip_interface_brief())
        elif len(word) >= 3 and "interfaces".startswith(word):
            self.write(self.show_interfaces(rest))
        elif len(word) >= 3 and "startup-config".startswith(word):
            self.show_startup()
        elif "vlan".startswith(word) and (not rest or "brief".startswith(rest[0])):
            self.write(self.show_vlan(brief=bool(rest)))
        elif any(known.startswith(word) for known in ("running-config", "vlan", "etherchannel", "ip")):
            super().do_show(*args)
        else:
            self.write(INVALID_INPUT)

    def show_run(self):
        body = render_config(self.switch_configuration, self.platform["version"])
        self.write(f"Building configuration...\n\nCurrent configuration : {len(body) + 1} bytes\n{body}\n")

    def show_startup(self):
        conf = build_configuration(self.startup())
        conf.add_vlan(conf.new("Vlan", 1))  # as the cisco core does when the switch starts
        body = render_config(conf, self.platform["version"])
        self.write(f"Using {len(body) + 1} out of 524288 bytes\n{body}\n")

    def version_text(self) -> str:
        p, name = self.platform, self.switch_configuration.name
        ports = self.switch_configuration.get_physical_ports()
        gig = sum(1 for x in ports if x.name.startswith("Gigabit"))
        ten = sum(1 for x in ports if x.name.startswith("TenGigabit"))
        image = f"{p['software']}-UNIVERSALK9-M"
        return (
            f"Cisco IOS Software, {p['software']} Software ({image}), Version {p['version']}, "
            "RELEASE SOFTWARE (fc2)\n"
            "Technical Support: http://www.cisco.com/techsupport\n"
            "Copyright (c) 1986-2020 by Cisco Systems, Inc.\n"
            "Compiled Tue 31-Mar-20 23:09 by prod_rel_team\n\n"
            f"ROM: Bootstrap program is {p['software']} boot loader\n\n"
            f"{name} uptime is {_uptime()}\n"
            "System returned to ROM by power-on\n"
            f'System image file is "flash:/{p["image"]}"\n\n\n'
            f"cisco {p['model']} ({p['processor']}) processor (revision A0) with {p['memory_kb']}K bytes "
            "of memory.\n"
            f"Processor board ID {p['serial']}\n"
            "Last reset from power-on\n"
            f"{len(self.switch_configuration.get_vlan_ports())} Virtual Ethernet interfaces\n"
            f"{gig} Gigabit Ethernet interfaces\n"
            f"{ten} Ten Gigabit Ethernet interfaces\n"
            "The password-recovery mechanism is enabled.\n\n"
            "512K bytes of flash-simulated non-volatile configuration memory.\n"
            f"Base ethernet MAC Address       : {p['mac']}\n"
            f"Model number                    : {p['model']}\n"
            f"System serial number            : {p['serial']}\n\n\n"
            "Switch Ports Model                     SW Version            SW Image\n"
            "------ ----- -----                     ----------            ----------\n"
            f"*    1 {len(ports):<5} {p['model']:<25} {p['version']:<21} {image}\n\n\n"
            "Configuration register is 0xF\n\n"
        )

    def inventory_text(self) -> str:
        p = self.platform
        return f'NAME: "1", DESCR: "{p["model"]}"\nPID: {p["model"]:<18}, VID: V02  , SN: {p["serial"]}\n\n'

    def show_vlan(self, brief: bool) -> str:
        """Like IOS: access ports under their VLAN, trunk ports not listed."""
        members: dict[int, list[str]] = {}
        for port in self.switch_configuration.get_physical_ports():
            if port.mode != "trunk":
                members.setdefault(port.access_vlan or 1, []).append(_short(port.name))
        vlans = sorted(self.switch_configuration.vlans, key=lambda v: v.number)
        lines = [
            "",
            "VLAN Name                             Status    Ports",
            "---- -------------------------------- --------- -------------------------------",
        ]
        for vlan in vlans:
            name = vlan.name or ("default" if vlan.number == 1 else f"VLAN{vlan.number:04d}")
            rows, row = [], ""
            for port in members.get(vlan.number, []):
                if row and len(row) + len(port) + 2 > 31:
                    rows.append(row)
                    row = port
                else:
                    row = f"{row}, {port}" if row else port
            rows.append(row)
            lines.append(f"{vlan.number:<4} {name:<32} {'active':<9} {rows[0]}".rstrip())
            lines += [" " * 48 + more for more in rows[1:]]
        if not brief:
            lines += [
                "",
                "VLAN Type  SAID       MTU   Parent RingNo BridgeNo Stp  BrdgMode Trans1 Trans2",
                "---- ----- ---------- ----- ------ ------ -------- ---- -------- ------ ------",
            ]
            dashes = "-      -      -        -    -       "
            lines += [f"{v.number:<4} enet  {100000 + v.number:<10} 1500  {dashes} 0      0" for v in vlans]
        return "\n".join(lines) + "\n\n"

    def ip_interface_brief(self) -> str:
        conf = self.switch_configuration
        lines = [f"{'Interface':<22} {'IP-Address':<15} OK? Method Status                Protocol"]
        for port in conf.get_physical_ports() + conf.get_vlan_ports():
            ips = getattr(port, "ips", [])
            address, method = (str(ips[0].ip), "NVRAM") if ips else ("unassigned", "unset")
            status, proto = ("administratively down", "down") if port.shutdown else ("up", "up")
            lines.append(f"{port.name:<22} {address:<15} YES {method:<6} {status:<21} {proto}")
        return "\n".join(lines) + "\n"

    def show_interfaces(self, rest: tuple[str, ...]) -> str:
        conf = self.switch_configuration
        if rest and "status".startswith(rest[0]):
            lines = ["", f"{'Port':<9} {'Name':<18} {'Status':<12} {'Vlan':<10} Duplex  Speed Type"]
            for port in conf.get_physical_ports():
                ten = port.name.startswith("TenGigabit")
                vlan = "trunk" if port.mode == "trunk" else str(port.access_vlan or 1)
                lines.append(
                    f"{_short(port.name):<9} {(port.description or '')[:18]:<18} "
                    f"{'disabled' if port.shutdown else 'connected':<12} {vlan:<10} "
                    f"{'full' if ten else 'a-full':>6} {'10G' if ten else 'a-1000':>6} "
                    f"{'SFP-10GBase-LR' if ten else '10/100/1000BaseTX'}"
                )
            return "\n".join(lines) + "\n\n"
        ports = conf.get_physical_ports() + conf.get_vlan_ports()
        if rest:
            wanted = conf.get_port_by_partial_name("".join(rest))
            if wanted is None:
                return INVALID_INPUT
            ports = [wanted]
        out = []
        for port in ports:
            state = (
                "administratively down, line protocol is down" if port.shutdown else "up, line protocol is up"
            )
            out.append(f"{port.name} is {state}")
            out.append(f"  Hardware is {'Ten ' if port.name.startswith('Ten') else ''}Gigabit Ethernet")
            if port.description:
                out.append(f"  Description: {port.description}")
            for ip in getattr(port, "ips", []):
                out.append(f"  Internet address is {ip}")
        return "\n".join(out) + "\n"

    def do_write(self, *args):
        if args and not "memory".startswith(args[0]):
            self.write(INVALID_INPUT)
            return
        self.write_line("Building configuration...")
        self.on_save()
        self.write_line("[OK]")

    def do_copy(self, *args):
        if len(args) == 2 and "running-config".startswith(args[0]) and "startup-config".startswith(args[1]):
            self.write("Destination filename [startup-config]? ")
            self.continue_to(self.continue_copy_run_start)
        elif len(args) == 2:
            super().do_copy(*args)
        else:
            self.write(INVALID_INPUT)

    def continue_copy_run_start(self, _line):
        self.write_line("Building configuration...")
        self.on_save()
        self.write_line("[OK]")


class LabConfigProcessor(ConfigCommandProcessor):
    """Global configuration mode, with `end`, `hostname` and the reject rules (for every sub-mode)."""

    def __init__(self, rules: RejectRules, session_log: logging.Logger):
        super().__init__(
            config_vlan=ConfigVlanCommandProcessor(),
            config_vrf=ConfigVRFCommandProcessor(),
            config_interface=ConfigInterfaceCommandProcessor(),
        )
        self.rules = rules
        self.session_log = session_log

    def process_command(self, line):
        rule = self.rules.match(line) if line.strip() else None
        if rule is not None:
            self.session_log.warning("rejected configuration command %r (reject rule %r)", line.strip(), rule)
            self.write(INVALID_INPUT)
            self.show_prompt()
            return True
        return super().process_command(line)

    def do_end(self, *_args):
        self.is_done = True

    def do_hostname(self, *args):
        if len(args) != 1:
            self.write(INVALID_INPUT)
            return
        self.switch_configuration.name = args[0]


class LabShellSession(CiscoShellSession):
    """Logs each command (not what is typed at a password prompt); survives emulator bugs."""

    def __init__(self, processor, session_log: logging.Logger):
        self.session_log = session_log
        super().__init__(processor)

    def _current(self):
        proc = self.command_processor
        while proc.sub_processor is not None:
            proc = proc.sub_processor
        return proc

    def receive(self, line):
        current = self._current()
        if current.replace_input is not False:
            self.session_log.info("(password entered at prompt)")
        elif line.strip():
            self.session_log.info("command: %s", line)
        try:
            return super().receive(line)
        except Exception as err:  # the emulator's own bugs must not kill the session
            self.session_log.error("command handler failed: %s\n%s", err, traceback.format_exc())
            current = self._current()
            current.continue_to(None)
            current.replace_input = False
            current.write(INVALID_INPUT)
            self.command_processor.show_prompt()
            return True


class LabSwitchCore(BaseCiscoSwitchCore):
    def __init__(
        self,
        conf: SwitchConfiguration,
        platform: dict[str, Any],
        enable_secret: str,
        rules: RejectRules,
        saved_path: Path,
        startup: dict[str, Any],
    ):
        super().__init__(conf)
        self.platform = platform
        self.enable_secret = enable_secret
        self.rules = rules
        self.saved_path = saved_path
        self.startup = startup

    def save(self) -> None:
        """`write memory`: the running configuration becomes the startup one, kept in saved_path."""
        self.startup = snapshot(self.switch_configuration)
        tmp = self.saved_path.with_name(self.saved_path.name + ".tmp")
        tmp.write_text(
            "# Saved by `write memory` on the emulated switch.\n"
            + yaml.safe_dump(self.startup, sort_keys=False),
            encoding="utf-8",
        )
        tmp.replace(self.saved_path)
        log.info("configuration saved to %s", self.saved_path)

    def launch(self, protocol, terminal_controller):
        self.last_connection_id += 1
        name = self.switch_configuration.name
        session_log = logging.getLogger(f"fakeswitch.{name}.s{self.last_connection_id}")
        internal = logging.getLogger(f"fakeswitch.internal.{name}")  # fake-switches' own chatter
        enabled = LabEnabledProcessor(
            config=LabConfigProcessor(self.rules, session_log),
            platform=self.platform,
            on_save=self.save,
            startup=lambda: self.startup,
        )
        processor = LabUserProcessor(enabled, self.enable_secret, session_log)
        processor.init(self.switch_configuration, terminal_controller, internal, PipingProcessor(internal))
        session_log.info("session opened (%s)", protocol)
        return LabShellSession(processor, session_log)

    def new_command_processor(self):  # required by the base class; launch() builds its own
        raise NotImplementedError


# ---------------------------------------------------------------------------------------- SSH server
@implementer(ICredentialsChecker)
class _PasswordChecker:
    credentialInterfaces = (credentials.IUsernamePassword,)

    def __init__(self, username: str, password: str):
        self._username = username.encode()
        self._password = password.encode()

    def requestAvatarId(self, creds):
        user_ok = hmac.compare_digest(creds.username, self._username)
        password_ok = hmac.compare_digest(creds.password, self._password)
        if user_ok and password_ok:
            log.info("SSH login accepted for %s", creds.username.decode(errors="replace"))
            return defer.succeed(creds.username)
        log.warning(
            "SSH login refused for %r: wrong username or password", creds.username.decode(errors="replace")
        )
        return defer.fail(error.UnauthorizedLogin())


def ensure_host_key(path: Path) -> keys.Key:
    """The switch's ed25519 host key at `path` (0600, created once) and `path`.pub."""
    if not path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(pem)
        tmp.replace(path)
    key = keys.Key.fromString(path.read_bytes())
    pub = path.with_suffix(path.suffix + ".pub")
    text = key.public().toString("openssh").decode() + f" {path.stem}\n"
    if not pub.exists() or pub.read_text() != text:
        pub.write_text(text)
    return key


def build_factory(core: LabSwitchCore, creds: dict[str, str], host_key: keys.Key) -> factory.SSHFactory:
    ssh_factory = factory.SSHFactory()
    ssh_factory.portal = portal.Portal(SSHDemoRealm(core))
    ssh_factory.portal.registerChecker(_PasswordChecker(creds["username"], creds["password"]))
    ssh_factory.publicKeys = {host_key.sshType(): host_key.public()}
    ssh_factory.privateKeys = {host_key.sshType(): host_key}
    return ssh_factory


# ------------------------------------------------------------------------------------------- logging
class _Redact(logging.Filter):
    """Masks the switch's secrets in every record, tracebacks included."""

    def __init__(self, secrets_: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets_ if s]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
            record.exc_info = None
            record.exc_text = None
        for secret in self.secrets:
            text = text.replace(secret, "********")
        record.msg, record.args = text, ()
        return True


def _setup_logging(secrets_: list[str]) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact(secrets_))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("fakeswitch.internal").setLevel(logging.WARNING)
    logging.getLogger("twisted").setLevel(logging.WARNING)
    globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)


_STARTED = time.monotonic()


def _uptime() -> str:
    minutes = int(time.monotonic() - _STARTED) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{hours} hours, {minutes} minutes" if hours else f"{minutes} minutes"


# ---------------------------------------------------------------------------------------------- main
def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as err:
        raise argparse.ArgumentTypeError(f"not a valid regular expression: {err}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m hisguard.lab.fakeswitch",
        description="Run one emulated Cisco IOS lab switch on 127.0.0.1 (SSH).",
    )
    parser.add_argument("--name", required=True, choices=switches.SWITCH_NAMES, help="lab switch to run")
    parser.add_argument("--port", required=True, type=int, help="SSH port on 127.0.0.1")
    parser.add_argument(
        "--credentials",
        required=True,
        type=Path,
        help="YAML file (mode 0600/0400) with username, password, enable_secret",
    )
    parser.add_argument(
        "--state-dir",
        required=True,
        type=Path,
        help="lab state dir: host key, saved config, reject file live in DIR/switches/",
    )
    parser.add_argument(
        "--reject-command",
        action="append",
        type=_regex,
        default=[],
        metavar="REGEX",
        help="refuse configuration commands matching REGEX (repeatable)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        creds = switches.read_credentials(args.credentials)
    except UserError as err:
        print(f"fakeswitch: error: {err.message}", file=sys.stderr)
        return err.exit_code
    _setup_logging([creds["password"], creds["enable_secret"]])

    state_dir = args.state_dir.resolve()
    switches.switch_dir(state_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    seed = switches.load_seed(args.name)
    saved_path = switches.startup_config_file(state_dir, args.name)
    config = seed
    if saved_path.exists():
        config = {**seed, **yaml.safe_load(saved_path.read_text(encoding="utf-8"))}
        log.info("loading saved configuration %s", saved_path)
    conf = build_configuration(config)

    rules = RejectRules(args.reject_command, switches.reject_file(state_dir, args.name))
    core = LabSwitchCore(conf, seed["platform"], creds["enable_secret"], rules, saved_path, config)
    host_key = ensure_host_key(switches.host_key_file(state_dir, args.name))
    fingerprint = hashlib.sha256(host_key.public().blob()).hexdigest()[:16]

    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError

    try:
        reactor.listenTCP(args.port, build_factory(core, creds, host_key), interface=switches.LISTEN_ADDRESS)
    except CannotListenError as err:
        log.error("cannot listen on %s:%s: %s", switches.LISTEN_ADDRESS, args.port, err.socketError)
        return 1
    log.info(
        "%s (%s) listening on %s:%s (SSH, host key sha256 %s...)",
        args.name,
        seed["platform"]["model"],
        switches.LISTEN_ADDRESS,
        args.port,
        fingerprint,
    )
    reactor.run()
    log.info("%s stopped", args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
