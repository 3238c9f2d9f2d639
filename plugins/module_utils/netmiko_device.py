# Copyright: hisguard contributors
# Apache License 2.0 (see LICENSE)
"""Shared by hisguard.infosec's switch modules: one netmiko session to a Cisco IOS device with
errors that say what failed and what to check, and pure parsers of IOS `show` output.

Modules using it run on the controller (`delegate_to: localhost`); the device is reached over SSH.
"""

from __future__ import annotations

import contextlib
import re
import socket

try:
    from netmiko import ConnectHandler
    from netmiko.exceptions import (
        ConfigInvalidException,
        NetmikoAuthenticationException,
        NetmikoBaseException,
        NetmikoTimeoutException,
        ReadTimeout,
    )
    from paramiko.ssh_exception import SSHException

    HAS_NETMIKO = True
    NETMIKO_IMPORT_ERROR = None
except ImportError as import_error:  # reported by the module through missing_required_lib
    HAS_NETMIKO = False
    NETMIKO_IMPORT_ERROR = import_error

DEFAULT_TIMEOUT = 30

# Lines with which IOS refuses a configuration or exec command.
DEVICE_ERROR_RE = re.compile(
    r"^\s*(% ?Invalid input.*|% ?Incomplete command.*|% ?Ambiguous command.*|% ?Bad secrets.*|"
    r"% ?Error.*|% ?\S+ overlaps with .*|No such command.*|Command authorization failed.*|"
    r"Command rejected.*)$",
    re.M | re.I,
)


class SwitchError(Exception):
    """A failure talking to a switch; `str()` is a message for the operator.

    `stage` is connect|enable|show|configure|save; for configure, `command` is the line that failed
    and `applied` the lines the device accepted before it (so a caller knows what to undo).
    """

    def __init__(self, message, host=None, port=None, stage=None, command=None, applied=None):
        super().__init__(message)
        self.message = message
        self.host = host
        self.port = port
        self.stage = stage
        self.command = command
        self.applied = list(applied or [])


# The options every switch module takes to reach its device (merged into its argument_spec).
CONNECTION_ARGUMENT_SPEC = {
    "host": {"type": "str", "required": True},
    "port": {"type": "int", "default": 22},
    "username": {"type": "str", "required": True},
    "password": {"type": "str", "required": True, "no_log": True},
    "secret": {"type": "str", "no_log": True},
    "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
    "known_hosts": {"type": "path"},
}


def session_from_params(params):
    """A SwitchSession from a module's CONNECTION_ARGUMENT_SPEC options."""
    return SwitchSession(
        params["host"],
        params["port"],
        params["username"],
        params["password"],
        params.get("secret"),
        params.get("timeout") or DEFAULT_TIMEOUT,
        params.get("known_hosts"),
    )


# ------------------------------------------------------------------------------------------ connecting
def connection_params(host, port, username, password, secret, timeout=DEFAULT_TIMEOUT, known_hosts=None):
    """netmiko ConnectHandler keyword arguments for a Cisco IOS device.

    With `known_hosts` (an OpenSSH known_hosts file) the host key is verified strictly: unknown or
    changed keys are refused. Without it the key is not checked.
    """
    params = {
        "device_type": "cisco_ios",
        "host": host,
        "port": int(port),
        "username": username,
        "password": password,
        "secret": secret or "",
        "conn_timeout": timeout,
        "auth_timeout": timeout,
        "banner_timeout": timeout,
        "read_timeout_override": timeout,
        "session_timeout": timeout * 2,
        "allow_agent": False,
        "use_keys": False,
        "fast_cli": True,
    }
    if known_hosts:
        params.update(ssh_strict=True, system_host_keys=False, alt_host_keys=True, alt_key_file=known_hosts)
    else:
        params.update(ssh_strict=False, system_host_keys=False, alt_host_keys=False)
    return params


def explain(err, host, port, stage, timeout=DEFAULT_TIMEOUT, known_hosts=None, command=None):
    """A message for the operator about `err`, raised while `stage` (connect|enable|show|configure|save)."""
    where = f"{host}:{port}"
    detail = " ".join(str(err).split())
    keys = known_hosts or "the known_hosts file"
    if isinstance(err, ValueError) and (stage == "enable" or "enable mode" in detail):
        return (
            f"enable on {where} was refused: check the enable secret (ansible_become_password / the "
            "module's secret) and that the account may enter privileged mode"
        )
    if HAS_NETMIKO and isinstance(err, NetmikoAuthenticationException):
        return (
            f"SSH login to {where} was refused: check the username and password (ansible_user / "
            "ansible_password) and that you reach the intended device"
        )
    if "not found in known_hosts" in detail:
        return (
            f"the SSH host key of {where} is not in {keys}: add the device's key to that file (for the "
            "lab, `hisguard lab up` writes it) before connecting"
        )
    if "does not match" in detail and "key" in detail.lower():
        return (
            f"the SSH host key of {where} does not match {keys}: if the device was re-keyed on purpose, "
            "replace its entry; otherwise do not connect (possible man-in-the-middle)"
        )
    if HAS_NETMIKO and isinstance(err, ReadTimeout):
        what = f"`{command}`" if command else f"during {stage}"
        return (
            f"{where} did not answer {what} within {timeout} s: the device may be overloaded or not "
            "accept that command; raise the module's timeout or check the device"
        )
    if HAS_NETMIKO and isinstance(err, ConfigInvalidException):
        return f"{where} refused the configuration: {detail}"
    if "TCP connection to device failed" in detail or isinstance(err, ConnectionRefusedError):
        return (
            f"cannot open a TCP connection to {where}: check that the device is up (for the lab: "
            "`hisguard lab status`), the address and port (ansible_host / ansible_port) and any "
            "firewall in between"
        )
    if "DNS failure" in detail or isinstance(err, socket.gaierror):
        return f"cannot resolve the address of {where}: check ansible_host"
    if "Error reading SSH protocol banner" in detail or isinstance(err, socket.timeout):
        return (
            f"{where} accepted TCP but did not speak SSH within {timeout} s: check that the port is the "
            "device's SSH port and that the device is not overloaded"
        )
    if HAS_NETMIKO and isinstance(err, (NetmikoTimeoutException, SSHException)):
        return f"SSH to {where} failed during {stage}: {detail}"
    if isinstance(err, OSError):
        return f"network error talking to {where} during {stage}: {detail}"
    return f"{stage} failed on {where}: {type(err).__name__}: {detail}"


def device_errors(output, head=None):
    """The lines of `output` with which the device refused a command (empty list when none).

    With `head`, only the first `head` non-blank lines are looked at: IOS reports a refused exec
    command at the top, and a long output (a banner in a running-config) must not look like one.
    """
    text = output or ""
    if head is not None:
        text = "\n".join([line for line in text.splitlines() if line.strip()][:head])
    return [m.group(1).strip() for m in DEVICE_ERROR_RE.finditer(text)]


def refused_commands(output):
    """[(command, error)] for each command the device refused in an echoed CLI transcript
    (netmiko's send_config_set output): the error line paired with the last prompt line before it."""
    refused = []
    command = None
    for line in (output or "").splitlines():
        prompt = re.match(r"^\S+?(?:\([\w-]+\))?[#>]\s?(.*)$", line)
        if prompt and not line.startswith(("%", " ")):
            command = prompt.group(1).strip()
            continue
        errors = device_errors(line)
        if errors:
            refused.append((command, errors[0]))
    return refused


class SwitchSession:
    """A privileged (enable) CLI session; use as a context manager. Every failure is a SwitchError."""

    def __init__(
        self,
        host,
        port=22,
        username=None,
        password=None,
        secret=None,
        timeout=DEFAULT_TIMEOUT,
        known_hosts=None,
    ):
        self.host, self.port, self.timeout, self.known_hosts = host, int(port), timeout, known_hosts
        self._params = connection_params(host, port, username, password, secret, timeout, known_hosts)
        self.conn = None

    def _fail(self, err, stage, command=None, applied=None):
        message = explain(err, self.host, self.port, stage, self.timeout, self.known_hosts, command)
        return SwitchError(message, self.host, self.port, stage, command, applied)

    def open(self):
        if not HAS_NETMIKO:
            raise SwitchError(
                f"the netmiko Python library is required on the controller: {NETMIKO_IMPORT_ERROR}"
            )
        try:
            self.conn = ConnectHandler(**self._params)
        except (NetmikoBaseException, SSHException, OSError, ValueError, EOFError) as err:
            raise self._fail(err, "connect") from err
        try:
            if not self.conn.check_enable_mode():
                self.conn.enable()
        except ValueError as err:
            self.close()
            raise self._fail(err, "enable") from err
        except (NetmikoBaseException, SSHException, OSError, EOFError) as err:
            self.close()
            raise self._fail(err, "enable") from err
        return self

    def close(self):
        if self.conn is not None:
            with contextlib.suppress(Exception):  # closing a broken session must not hide the error
                self.conn.disconnect()
            self.conn = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    def show(self, command):
        """Output of an exec command; a device error line ("% Invalid input ...") raises SwitchError."""
        try:
            output = self.conn.send_command(command, read_timeout=self.timeout)
        except (NetmikoBaseException, SSHException, OSError, EOFError) as err:
            raise self._fail(err, "show", command) from err
        errors = device_errors(output, head=3)
        if errors:
            raise SwitchError(
                f"{self.host}:{self.port} refused `{command}`: {'; '.join(errors)}",
                self.host,
                self.port,
            )
        return output

    def configure(self, commands, stop_on_error=True):
        """Apply configuration lines (configure terminal ... end), one line at a time.

        A line the device refuses raises SwitchError naming it, with `applied` = the lines accepted
        before it; with `stop_on_error` (the default) the lines after it are not sent, otherwise they
        are and every refused line is named. The session always leaves configuration mode.
        """
        commands = [c for c in commands if c.strip()]
        applied, refused, transcript = [], [], []
        command = None
        try:
            transcript.append(self.conn.config_mode())
            for command in commands:
                output = self.conn.send_config_set(
                    [command],
                    enter_config_mode=False,
                    exit_config_mode=False,
                    read_timeout=self.timeout,
                    cmd_verify=True,
                )
                transcript.append(output)
                errors = device_errors(output)
                if errors:
                    refused.append((command, errors[0]))
                    if stop_on_error:
                        break
                    continue
                applied.append(command)
                if command.startswith("hostname "):  # the prompt follows the new name
                    self.conn.base_prompt = command.split(None, 1)[1].strip()
            command = None
            transcript.append(self.conn.exit_config_mode())
        except (NetmikoBaseException, SSHException, OSError, EOFError, ValueError) as err:
            self.leave_config_mode()
            raise self._fail(err, "configure", command, applied) from err
        if refused:
            what = "; ".join(f"`{c}`: {e}" for c, e in refused)
            rest = (
                "the lines before it were applied, the lines after it were not sent"
                if stop_on_error
                else "the other lines were applied"
            )
            raise SwitchError(
                f"{self.host}:{self.port} refused configuration: {what} ({rest})",
                self.host,
                self.port,
                "configure",
                refused[0][0],
                applied,
            )
        return "".join(transcript)

    def leave_config_mode(self):
        """Back to privileged EXEC after a failure; a broken session is left as it is."""
        with contextlib.suppress(Exception):
            if self.conn is not None and self.conn.check_config_mode():
                self.conn.exit_config_mode()

    def reconnect(self):
        """A fresh session (after a timeout left the old one in an unknown state)."""
        self.close()
        return self.open()

    def running_config(self):
        """`show running-config` without the exec header ("Building configuration...")."""
        return config_text(self.show("show running-config"))

    def quiet_console(self):
        """Stop log messages interleaving with command output in this session (`terminal no
        monitor`); False when the device does not accept it."""
        try:
            output = self.conn.send_command("terminal no monitor", read_timeout=self.timeout)
        except (NetmikoBaseException, SSHException, OSError, EOFError) as err:
            raise self._fail(err, "show", "terminal no monitor") from err
        return not device_errors(output, head=3)

    def interface_state(self, name):
        """(admin, protocol) of an interface from `show interfaces NAME`, e.g. ("up", "up") or
        ("administratively down", "down"); (None, None) when the output says neither."""
        return parse_interface_state(self.show(f"show interfaces {name}"))

    def save(self):
        """`write memory`: the running configuration becomes the startup configuration."""
        try:
            output = self.conn.save_config()
        except (NetmikoBaseException, SSHException, OSError, EOFError, ValueError) as err:
            raise self._fail(err, "save") from err
        if "[OK]" not in output and device_errors(output):
            raise SwitchError(f"{self.host}:{self.port} did not save its configuration: {output.strip()}")
        return output


# --------------------------------------------------------------------------------------------- parsing
_CONFIG_HEADER_RE = re.compile(
    r"^(Building configuration\.\.\.|Current configuration\s*:.*|Using \d+ out of .*)$"
)


def config_text(output):
    """A configuration as IOS prints it (from `version` or the first `!` to `end`), header removed."""
    lines = (output or "").replace("\r\n", "\n").split("\n")
    while lines and (not lines[0].strip() or _CONFIG_HEADER_RE.match(lines[0].strip())):
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(line.rstrip() for line in lines) + "\n" if lines else ""


def parse_interface_state(text):
    """`show interfaces X` -> (admin state, line protocol), e.g. ("up", "up"); (None, None) if absent."""
    match = re.search(r"^\S+ is ([\w ]+?), line protocol is (\w+)", text or "", re.M)
    return (match.group(1), match.group(2)) if match else (None, None)


_INTERFACE_RE = re.compile(r"^interface (\S+)\s*$")
_SHORT_NAMES = {
    "Gi": "GigabitEthernet",
    "Te": "TenGigabitEthernet",
    "Fa": "FastEthernet",
    "Tw": "TwoGigabitEthernet",
    "Fo": "FortyGigabitEthernet",
    "Hu": "HundredGigE",
    "Po": "Port-channel",
    "Vl": "Vlan",
}


def canonical_interface(name):
    """`Gi1/0/1`, `gi1/0/1`, `GigabitEthernet1/0/1` -> `GigabitEthernet1/0/1` (unknown kinds unchanged)."""
    match = re.match(r"^([A-Za-z-]+)\s*(\d.*)$", (name or "").strip())
    if not match:
        return name
    kind, number = match.groups()
    for short, full in _SHORT_NAMES.items():
        if full.lower().startswith(kind.lower()) and kind.lower().startswith(short.lower()):
            return full + number
    return kind + number


def parse_running_config(text):
    """`show running-config` -> {"hostname": str|None, "interfaces": {name: {...}}}.

    Each interface: description (str|None), shutdown (bool), mode (access|trunk|routed|None),
    vlan (access VLAN, int|None), trunk_vlans (str|None), ip (address/prefix of the primary
    address, str|None), ips (all, with prefix).
    """
    hostname = None
    interfaces = {}
    current = None
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        match = _INTERFACE_RE.match(line)
        if match:
            current = interfaces.setdefault(
                match.group(1),
                {
                    "description": None,
                    "shutdown": False,
                    "mode": None,
                    "vlan": None,
                    "trunk_vlans": None,
                    "ip": None,
                    "ips": [],
                },
            )
            continue
        if not line.startswith(" "):
            current = None
            if line.startswith("hostname "):
                hostname = line.split(None, 1)[1].strip()
            continue
        if current is None:
            continue
        words = line.split()
        if words[0] == "description":
            current["description"] = line.strip()[len("description ") :]
        elif words == ["shutdown"]:
            current["shutdown"] = True
        elif words == ["no", "shutdown"]:
            current["shutdown"] = False
        elif words[:2] == ["switchport", "mode"] and len(words) > 2:
            current["mode"] = words[2]
        elif words[:3] == ["switchport", "access", "vlan"] and len(words) > 3 and words[3].isdigit():
            current["vlan"] = int(words[3])
        elif words[:4] == ["switchport", "trunk", "allowed", "vlan"] and len(words) > 4:
            current["trunk_vlans"] = (
                words[-1] if words[4] != "add" else _join_vlans(current["trunk_vlans"], words[5])
            )
        elif words[:2] == ["no", "switchport"]:
            current["mode"] = "routed"
        elif words[:2] == ["ip", "address"] and len(words) >= 4:
            address = f"{words[2]}/{_prefix_length(words[3])}"
            if "secondary" in words[4:]:
                current["ips"].append(address)
            else:
                current["ips"].insert(0, address)
                current["ip"] = address
    for settings in interfaces.values():
        if settings["mode"] is None and settings["vlan"] is not None:
            settings["mode"] = "access"
        if settings["mode"] == "access" and settings["vlan"] is None:
            settings["vlan"] = 1
    return {"hostname": hostname, "interfaces": interfaces}


def _join_vlans(existing, more):
    return more if not existing else f"{existing},{more}"


def _prefix_length(mask):
    try:
        return sum(bin(int(octet)).count("1") for octet in mask.split("."))
    except ValueError:
        return mask


def parse_show_vlan(text):
    """`show vlan` / `show vlan brief` -> {vlan_id: {"name", "status", "ports": [canonical names]}}."""
    vlans = {}
    current = None
    in_table = False
    for line in (text or "").splitlines():
        if line.startswith("VLAN Name"):
            in_table = True
            continue
        if not in_table:
            continue
        if line.startswith("VLAN Type") or (not line.strip() and vlans):
            break
        if not line.strip() or line.startswith("----"):
            continue
        match = re.match(r"^(\d+)\s+(\S+)\s+(\S+)\s*(.*)$", line)
        if match:
            number, name, status, ports = match.groups()
            current = vlans[int(number)] = {"name": name, "status": status, "ports": []}
        elif current is None or not line.startswith(" "):
            continue
        else:
            ports = line
        current["ports"] += [canonical_interface(p) for p in re.split(r"[,\s]+", ports.strip()) if p]
    return vlans


def parse_show_version(text):
    """`show version` -> {"version", "model", "serial", "hostname", "image", "uptime"} (None when absent)."""
    text = text or ""

    def first(*patterns):
        for pattern in patterns:
            match = re.search(pattern, text, re.M)
            if match:
                return match.group(1).strip()
        return None

    return {
        "version": first(r"\bVersion ([^,\s]+)"),
        "model": first(
            r"^Model [Nn]umber\s*:\s*(\S+)",
            r"^[Cc]isco (\S+) .*\((?:revision|[^)]*processor)",
            r"^[Cc]isco (\S+) .*bytes of .*memory",
        ),
        "serial": first(r"^System [Ss]erial [Nn]umber\s*:\s*(\S+)", r"[Pp]rocessor board ID (\S+)"),
        "hostname": first(r"^(\S+) uptime is"),
        "image": first(r'^System image file is "([^"]+)"'),
        "uptime": first(r"^\S+ uptime is (.+)$"),
    }


def uplink_state(interfaces, primary=None, backup=None):
    """{"primary": {...}, "backup": {...}} for the named ports (names may be abbreviated).

    Each: port (canonical name), present (bool), shutdown (bool|None), description (str|None).
    A role whose port is not given is left out.
    """
    result = {}
    for role, name in (("primary", primary), ("backup", backup)):
        if not name:
            continue
        port = canonical_interface(name)
        settings = interfaces.get(port)
        result[role] = {
            "port": port,
            "present": settings is not None,
            "shutdown": settings["shutdown"] if settings else None,
            "description": settings["description"] if settings else None,
        }
    return result
