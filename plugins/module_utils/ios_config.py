# Copyright: hisguard contributors
# Apache License 2.0 (see LICENSE)
"""Pure functions on Cisco IOS configuration text, shared by hisguard.infosec's switch modules.

- `config_body`: the configuration as `show running-config` prints it, without the exec header;
- `parse_tree` / `normalized_lines`: the configuration as a tree of lines (indentation = nesting),
  without lines that differ between two devices holding the same configuration (`version`, `end`,
  comments, `ntp clock-period`);
- `transition_commands`: the configuration commands that turn one configuration into another
  (used to roll a device back to the configuration captured before a change, and to load a
  backup onto a spare switch);
- `differences`: a unified diff of two configurations, for reports and verification;
- `sanitize`: the configuration with passwords, keys and SNMP communities masked;
- `adjust_identity`: a backup with another hostname and management address;
- `port_settings` / `compare_ports`: an interface's settings as lines, to tell whether a backup
  port is configured like its primary.

Nothing here talks to a device.
"""

from __future__ import annotations

import difflib
import ipaddress
import re

MASK = "<removed>"

# Exec output around the configuration, never part of it.
_HEADER_RE = re.compile(
    r"^(Building configuration\.\.\.|Current configuration\s*:.*|Using \d+ out of \d+ bytes.*|"
    r"show (running|startup)-config.*)$"
)
# Lines that change without anybody changing the configuration, or that describe the software.
_VOLATILE_RE = re.compile(
    r"^(!.*|version \S+|end|ntp clock-period \d+|boot-start-marker|boot-end-marker|"
    r"Current configuration\s*:.*|Building configuration\.\.\.)$"
)
# Settings that hold one value: a new value replaces the old one without a `no` first.
# Matched against the line without a leading `no `; the key is the matched prefix.
_SINGLE_VALUE_RE = re.compile(
    r"^(hostname|ip domain[- ]name|ip default-gateway|ip name-server|enable secret|enable password|"
    r"description|name|shutdown|switchport mode|switchport access vlan|switchport voice vlan|"
    r"switchport trunk native vlan|switchport trunk allowed vlan(?! (?:add|remove|except))|"
    r"switchport trunk encapsulation|switchport(?=$)|ip address(?!.* secondary$)|speed|duplex|mtu|"
    r"channel-group|ip vrf forwarding|vrf forwarding|spanning-tree portfast|"
    r"snmp-server location|snmp-server contact|logging buffered|clock timezone|"
    r"standby \d+ priority|standby version)(?=\s|$)"
)
# Interfaces that can be created and deleted; all others are physical and can only be configured.
_VIRTUAL_INTERFACE_RE = re.compile(
    r"^interface (Vlan|Loopback|Port-channel|Tunnel|BDI|BVI|Null|NVE|Virtual-|Dialer)", re.I
)
# Sections the generic transition cannot rebuild line by line (multi-line literal content).
_OPAQUE_RE = re.compile(r"^(banner \S+|crypto pki certificate chain \S+|macro name \S+)")

# (pattern, group holding the secret). Each pattern is searched per line; group 1 is kept.
_SECRET_PATTERNS = [
    r"^(\s*enable (?:secret|password)(?: level \d+)?(?: \d+)? )(\S+)",
    r"^(\s*username \S+(?: .*?)? (?:secret|password)(?: \d+)? )(\S+)",
    r"^(\s*snmp-server community )(\S+)",
    r"^(\s*snmp-server host \S+(?: (?:informs|traps))?(?: version (?:1|2c|3 \S+))? )(\S+)",
    r"^(\s*snmp-server user \S+ \S+(?: .*?)? auth \S+ )(\S+)",
    r"^(\s*snmp-server user \S+ \S+ .*? priv(?: \S+)*? (?:des|3des|aes(?: \d+)?) )(\S+)",
    r"^(\s*(?:tacacs-server|radius-server)(?: host \S+)?(?: .*?)? key(?: \d+)? )(\S+)",
    r"^(\s+(?:server-)?key(?: \d+)? )((?!\d+$)\S+)",  # not `key 1` of a key chain
    r"^(\s+password(?: \d+)? )(\S+)",
    r"^(\s*key-string(?: \d+)? )(.+)",
    r"^(\s*ip ospf authentication-key(?: \d+)? )(\S+)",
    r"^(\s*ip ospf message-digest-key \d+ md5(?: \d+)? )(\S+)",
    r"^(\s*neighbor \S+ password(?: \d+)? )(\S+)",
    r"^(\s*standby(?: \d+)? authentication(?: md5 key-string| text)?(?: \d+)? )(\S+)",
    r"^(\s*vrrp \d+ authentication(?: md5 key-string| text)?(?: \d+)? )(\S+)",
    r"^(\s*crypto isakmp key(?: \d+)? )(\S+)",
    r"^(\s*ntp authentication-key \d+ md5 )(\S+)",
    r"^(\s*ppp (?:chap|pap) (?:password|sent-username \S+ password)(?: \d+)? )(\S+)",
    r"^(\s*(?:pre-shared-key|wpa-psk ascii)(?: \d+)? )(\S+)",
    r"^(\s*ip (?:ftp|http client) password(?: \d+)? )(\S+)",
    r"^(\s*(?:authentication|encryption) (?:key|password)(?: \d+)? )(\S+)",
]
_SECRET_RES = [re.compile(p, re.I) for p in _SECRET_PATTERNS]


# ----------------------------------------------------------------------------------------- reading
def config_body(text):
    """`show running-config` / `show startup-config` output without the exec header, newline-ended."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and (not lines[0].strip() or _HEADER_RE.match(lines[0].strip())):
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(line.rstrip() for line in lines) + "\n" if lines else ""


def _depth(line):
    return len(line) - len(line.lstrip(" "))


def parse_tree(text):
    """The configuration as [(line, children)], children in the same form; volatile lines dropped.

    A line's children are the following lines indented deeper than it. Banners and other
    multi-line literals are kept whole as one node (their body as children, unparsed).
    """
    root = []
    stack = [(-1, root)]  # (depth, children list)
    opaque = None  # (delimiter, children list) while inside a banner
    for raw in config_body(text).split("\n"):
        line = raw.rstrip()
        if opaque is not None:
            opaque[1].append((line, []))
            if opaque[0] and opaque[0] in line:
                opaque = None
            continue
        if not line.strip() or _VOLATILE_RE.match(line.strip()):
            continue
        depth = _depth(line)
        while stack[-1][0] >= depth:
            stack.pop()
        node = (line.strip(), [])
        stack[-1][1].append(node)
        stack.append((depth, node[1]))
        banner = re.match(r"^banner \S+ (\^C|\S)(.*)$", line.strip())
        if banner and banner.group(1) not in banner.group(2):
            opaque = (banner.group(1), node[1])
    return root


def normalized_lines(text):
    """The configuration as comparable lines (volatile lines dropped, one space per nesting level)."""
    out = []

    def walk(nodes, depth):
        for line, children in nodes:
            out.append(" " * depth + line)
            walk(children, depth + 1)

    walk(parse_tree(text), 0)
    return out


def differences(before, after, before_name="before", after_name="after", context=1):
    """Unified diff of the normalized configurations (empty list when they are the same)."""
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(
            normalized_lines(before),
            normalized_lines(after),
            before_name,
            after_name,
            n=context,
            lineterm="",
        )
    ]


def same_config(a, b):
    return normalized_lines(a) == normalized_lines(b)


# ------------------------------------------------------------------------------------- transitions
def setting_key(line):
    """Lines with the same key set the same single-valued setting (`description X` / `description Y`,
    `shutdown` / `no shutdown`); other lines are their own key."""
    text = line[3:] if line.startswith("no ") else line
    match = _SINGLE_VALUE_RE.match(text)
    return match.group(1) if match else line


def negate(line):
    """The command that removes configuration line `line` (`shutdown` -> `no shutdown`)."""
    return line[3:] if line.startswith("no ") else "no " + line


def is_physical_interface(line):
    return line.startswith("interface ") and not _VIRTUAL_INTERFACE_RE.match(line)


class TransitionError(ValueError):
    """The change cannot be expressed as configuration commands (e.g. a banner differs)."""


def _full(node):
    line, children = node
    commands = [line]
    for child in children:
        commands += _full(child)
    if children:
        commands.append("exit")
    return commands


def _transition(current, target, top, left_alone):
    commands = []
    current_map = dict(current)
    target_map = dict(target)
    new_keys = {setting_key(line) for line in target_map if line not in current_map}
    # 1. remove what the target does not have (last first), unless a new value replaces it.
    for line, _children in reversed(current):
        if line in target_map:
            continue
        if top and is_physical_interface(line):
            left_alone.append(line)  # a port cannot be deleted; it is left as it is
            continue
        if _OPAQUE_RE.match(line):
            raise TransitionError(f"`{line}` differs; multi-line literals must be changed by hand")
        key = setting_key(line)
        if key != line and key in new_keys:
            continue
        commands.append(negate(line))
    # 2. add or change what the target has, in its order.
    for line, children in target:
        if line in current_map and children == current_map[line]:
            continue
        if _OPAQUE_RE.match(line):
            raise TransitionError(f"`{line}` differs; multi-line literals must be changed by hand")
        if line not in current_map:
            commands += _full((line, children))
            continue
        inner = _transition(current_map[line], children, False, left_alone)
        if inner:
            commands += [line, *inner, "exit"]
    return commands


def transition_commands(current, target):
    """(commands, left_alone): the configuration commands that turn the running configuration
    `current` into `target` (both as text), and the physical interfaces of `current` that `target`
    does not mention (left unchanged: a port cannot be deleted).

    Removals come first (`no ...`), then additions in the target's order; a setting that holds one
    value (description, access VLAN, shutdown, ...) is replaced without removing it first. Each
    section is left with `exit`, so every top-level command is sent in global configuration mode.
    Raises TransitionError for differences that cannot be sent line by line (banners).
    """
    left_alone = []
    commands = _transition(parse_tree(current), parse_tree(target), True, left_alone)
    # A trailing `exit` would leave configuration mode on some platforms; `end` follows anyway.
    while commands and commands[-1] == "exit":
        commands.pop()
    return commands, left_alone


def interface_names(text, physical_only=True):
    names = []
    for line, _ in parse_tree(text):
        if line.startswith("interface ") and (not physical_only or is_physical_interface(line)):
            names.append(line.split(None, 1)[1])
    return names


def set_shutdown(text, port, shutdown):
    """`text` with interface `port` shut down (`shutdown` line added) or enabled (line removed).

    Raises ValueError when the configuration has no `interface <port>` section.
    """
    lines = config_body(text).split("\n")
    header = f"interface {port}"
    start = next(
        (i for i, line in enumerate(lines) if line.strip() == header and not line[0].isspace()), None
    )
    if start is None:
        raise ValueError(f"the configuration has no `{header}` section")
    end = start + 1
    while end < len(lines) and lines[end].startswith(" "):
        end += 1
    body = [line for line in lines[start + 1 : end] if line.strip() not in ("shutdown", "no shutdown")]
    if shutdown:
        body.append(" shutdown")
    return "\n".join(lines[: start + 1] + body + lines[end:])


# ------------------------------------------------------------------------------------------ secrets
def sanitize(text, extra_secrets=()):
    """`text` with every password, key, SNMP community and `extra_secrets` value replaced by <removed>."""
    secrets = sorted({s for s in extra_secrets if s and len(s) >= 4}, key=len, reverse=True)
    out = []
    for line in (text or "").split("\n"):
        for pattern in _SECRET_RES:
            line = pattern.sub(lambda m: m.group(1) + MASK, line)
        for secret in secrets:
            line = line.replace(secret, MASK)
        out.append(line)
    return "\n".join(out)


def sanitize_lines(lines, extra_secrets=()):
    return [sanitize(line, extra_secrets) for line in lines]


# ------------------------------------------------------------------------------------------ identity
def adjust_identity(text, hostname=None, mgmt_interface=None, mgmt_address=None):
    """`text` with `hostname` and the primary address of `mgmt_interface` replaced.

    `mgmt_address` is an address (the interface's mask is kept) or address/prefix.
    Raises ValueError when the management interface or its address is not in the configuration.
    """
    lines = config_body(text).split("\n")
    if hostname:
        replaced = False
        for i, line in enumerate(lines):
            if line.startswith("hostname "):
                lines[i] = f"hostname {hostname}"
                replaced = True
        if not replaced:
            raise ValueError("the configuration has no `hostname` line")
    if mgmt_interface and mgmt_address:
        header = f"interface {mgmt_interface}"
        start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
        if start is None:
            raise ValueError(f"the configuration has no `{header}` section")
        end = start + 1
        while end < len(lines) and lines[end].startswith(" "):
            end += 1
        for i in range(start + 1, end):
            words = lines[i].split()
            if words[:2] == ["ip", "address"] and len(words) == 4:
                mask = words[3]
                if "/" in mgmt_address:
                    net = ipaddress.ip_interface(mgmt_address)
                    address, mask = str(net.ip), str(net.netmask)
                else:
                    address = str(ipaddress.ip_address(mgmt_address))
                lines[i] = f" ip address {address} {mask}"
                break
        else:
            raise ValueError(f"`{header}` has no primary `ip address` line")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- ports
_PORT_IGNORED = re.compile(r"^(description|shutdown|no shutdown)\b")


def port_settings(text, port):
    """The configuration lines under `interface <port>` (None when the section is missing)."""
    for line, children in parse_tree(text):
        if line == f"interface {port}":
            return _flatten(children, 0)
    return None


def _flatten(nodes, depth):
    out = []
    for line, children in nodes:
        out.append(" " * depth + line)
        out += _flatten(children, depth + 1)
    return out


def compare_ports(text, primary, backup):
    """Lines that differ between two ports' settings, ignoring description and shutdown:
    [] when the backup port would carry the same traffic as the primary."""
    a = [line for line in port_settings(text, primary) or [] if not _PORT_IGNORED.match(line.strip())]
    b = [line for line in port_settings(text, backup) or [] if not _PORT_IGNORED.match(line.strip())]
    only_primary = [f"{primary} only: {line.strip()}" for line in a if line not in b]
    only_backup = [f"{backup} only: {line.strip()}" for line in b if line not in a]
    return only_primary + only_backup
