# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: switch_config_backup
short_description: Save a Cisco IOS switch's running configuration, restorable and sanitized
version_added: "0.1.0"
description:
  - Reads C(show running-config) and C(show version) over SSH with netmiko, on the controller (use
    it with C(delegate_to) C(localhost)).
  - Writes the configuration as the device prints it, secrets included, to O(dest) (mode 0600 in a
    0700 directory), so that it can be loaded back onto the device or onto a spare switch
    (M(hisguard.infosec.switch_config_push)). With O(vault_password_file) the file is encrypted with
    ansible-vault; the plaintext is handed to ansible-vault on stdin and never written to disk.
  - Writes a sanitized copy to O(sanitized_dest) (passwords, keys, SNMP communities and the login
    credentials masked as C(<removed>)) for diffs and reports.
  - A file is rewritten only when the configuration changed (C(changed=true)); the returned RV(diff)
    is computed on the sanitized copies and never holds a secret.
  - With O(primary_port) and O(backup_port), reports whether the backup uplink exists and is
    configured like the primary (RV(uplinks)), for the redundancy check of P3.9.1.3.
  - ansible-vault on the controller when O(vault_password_file) is set
extends_documentation_fragment:
  - hisguard.infosec.switch_connection
options:
  dest:
    description: Path of the restorable copy (secrets kept). Parent directories are created with mode 0700.
    type: path
    required: true
  sanitized_dest:
    description: Path of the sanitized copy (secrets masked).
    type: path
  vault_password_file:
    description:
      - Encrypt O(dest) with ansible-vault using this password file (mode 0600 or 0400).
      - A C(DEST.sha256) file beside it records the plaintext's checksum, so an unchanged
        configuration does not produce a new ciphertext.
    type: path
  mask:
    description:
      - More values to mask in the sanitized copy (for example SNMP or TACACS+ keys the patterns may miss).
    type: list
    elements: str
    default: []
  primary_port:
    description: The primary uplink port, for RV(uplinks).
    type: str
  backup_port:
    description: The backup uplink port, for RV(uplinks).
    type: str
attributes:
  check_mode:
    support: full
    details: In check mode the device is read and the change reported; no file is written.
  diff_mode:
    support: none
notes:
  - Keep the backups in a versioned store; C(playbooks/netconfig_backup.yml) commits them to a git
    repository (one commit per change) under C(var/netconfig).
seealso:
  - module: hisguard.infosec.switch_config_push
author:
  - hisguard developers
"""

EXAMPLES = r"""
- name: Back up the running configuration
  hisguard.infosec.switch_config_backup:
    host: "{{ ansible_host }}"
    port: "{{ ansible_port | default(22) }}"
    username: "{{ ansible_user }}"
    password: "{{ ansible_password }}"
    secret: "{{ ansible_become_password }}"
    known_hosts: "{{ hisguard_switch_known_hosts | default(omit) }}"
    dest: "/srv/hisguard/netconfig/configs/{{ inventory_hostname }}.cfg"
    sanitized_dest: "/srv/hisguard/netconfig/sanitized/{{ inventory_hostname }}.cfg"
    vault_password_file: /etc/hisguard/vault-password
    primary_port: "{{ hisguard_switch_primary_uplink | default(omit) }}"
    backup_port: "{{ hisguard_switch_backup_uplink | default(omit) }}"
  delegate_to: localhost
  register: backup
"""

RETURN = r"""
dest:
  description: Path of the restorable copy.
  returned: always
  type: str
sanitized_dest:
  description: Path of the sanitized copy.
  returned: when O(sanitized_dest) is set
  type: str
encrypted:
  description: Whether the restorable copy is ansible-vault encrypted.
  returned: success
  type: bool
first_backup:
  description: No earlier backup existed.
  returned: success
  type: bool
lines:
  description: Number of lines of the configuration.
  returned: success
  type: int
sanitized_sha256:
  description: SHA-256 of the sanitized copy.
  returned: success
  type: str
diff:
  description:
    - Unified diff between the previous and the new sanitized copy (at most 400 lines; empty when unchanged).
  returned: success
  type: list
  elements: str
diff_stats:
  description: Lines added and removed (sanitized copies).
  returned: success
  type: dict
  sample: {added: 1, removed: 1}
hostname:
  description: Hostname from the configuration.
  returned: success
  type: str
model:
  description: Hardware model from C(show version).
  returned: success
  type: str
version:
  description: Software version from C(show version).
  returned: success
  type: str
serial:
  description: Serial number from C(show version).
  returned: success
  type: str
uplinks:
  description:
    - The uplink ports (when given) - C(primary) and C(backup) each with C(port), C(present) and
      C(shutdown); C(backup_matches_primary) and C(mismatches) compare their settings
      (description and shutdown aside).
  returned: when O(primary_port) or O(backup_port) is set
  type: dict
"""

import difflib  # noqa: E402
import hashlib  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402
from ansible_collections.hisguard.infosec.plugins.module_utils import ios_config  # noqa: E402
from ansible_collections.hisguard.infosec.plugins.module_utils.netmiko_device import (  # noqa: E402
    CONNECTION_ARGUMENT_SPEC,
    HAS_NETMIKO,
    NETMIKO_IMPORT_ERROR,
    SwitchError,
    canonical_interface,
    parse_running_config,
    parse_show_version,
    session_from_params,
)
from ansible_collections.hisguard.infosec.plugins.module_utils.secure_files import (  # noqa: E402
    SecureFileError,
    is_vault,
    read_text,
    vault_encrypt,
    write_private,
)

MAX_DIFF_LINES = 400


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def uplinks(config, primary, backup):
    result = {}
    for role, name in (("primary", primary), ("backup", backup)):
        if name:
            port = canonical_interface(name)
            settings = ios_config.port_settings(config, port)
            result[role] = {
                "port": port,
                "present": settings is not None,
                "shutdown": None if settings is None else "shutdown" in [s.strip() for s in settings],
            }
    if primary and backup and result["primary"]["present"] and result["backup"]["present"]:
        mismatches = ios_config.compare_ports(config, result["primary"]["port"], result["backup"]["port"])
        result.update(backup_matches_primary=not mismatches, mismatches=mismatches)
    else:
        result.update(backup_matches_primary=False, mismatches=[])
    return result


def previous_state(p):
    """(unchanged-checker input): the previous plaintext or its checksum, and whether one exists."""
    existing = read_text(p["dest"])
    if existing is None:
        return None, None
    if p["vault_password_file"]:
        recorded = read_text(p["dest"] + ".sha256")
        return existing, (recorded or "").strip() or None
    if is_vault(existing):
        raise SecureFileError(
            f"{p['dest']} is vault-encrypted: give vault_password_file to keep backing up encrypted"
        )
    return existing, sha256(existing)


def main():
    argument_spec = dict(CONNECTION_ARGUMENT_SPEC)
    argument_spec.update(
        dest={"type": "path", "required": True},
        sanitized_dest={"type": "path"},
        vault_password_file={"type": "path", "no_log": False},
        mask={"type": "list", "elements": "str", "default": [], "no_log": True},
        primary_port={"type": "str"},
        backup_port={"type": "str"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_NETMIKO:
        module.fail_json(msg=missing_required_lib("netmiko"), exception=str(NETMIKO_IMPORT_ERROR))
    p = module.params
    try:
        with session_from_params(p) as session:
            config = session.running_config()
            version = parse_show_version(session.show("show version"))
    except SwitchError as err:
        module.fail_json(msg=f"no backup taken: {err.message}", host=p["host"], port=p["port"])
    if not config.strip():
        module.fail_json(msg=f"no backup taken: {p['host']}:{p['port']} returned an empty running-config")

    secrets = [p["password"], p["secret"], *p["mask"]]
    sanitized = ios_config.sanitize(config, secrets)
    try:
        existing, existing_sum = previous_state(p)
    except SecureFileError as err:
        module.fail_json(msg=str(err))
    previous_sanitized = read_text(p["sanitized_dest"]) if p["sanitized_dest"] else None
    if previous_sanitized is None and existing is not None and not is_vault(existing):
        previous_sanitized = ios_config.sanitize(existing, secrets)
    changed_config = existing_sum != sha256(config)
    changed_sanitized = bool(p["sanitized_dest"]) and previous_sanitized != sanitized
    diff = list(
        difflib.unified_diff(
            (previous_sanitized or "").splitlines(),
            sanitized.splitlines(),
            "previous",
            "current",
            lineterm="",
            n=2,
        )
    )
    stats = {
        "added": sum(1 for line in diff if line.startswith("+") and not line.startswith("+++")),
        "removed": sum(1 for line in diff if line.startswith("-") and not line.startswith("---")),
    }
    if not module.check_mode:
        try:
            if changed_config:
                if p["vault_password_file"]:
                    write_private(p["dest"], vault_encrypt(module, config, p["vault_password_file"]))
                    write_private(p["dest"] + ".sha256", sha256(config) + "\n")
                else:
                    write_private(p["dest"], config)
            if changed_sanitized:
                write_private(p["sanitized_dest"], sanitized)
        except (SecureFileError, OSError) as err:
            module.fail_json(msg=f"the backup could not be written: {err}")
    running = parse_running_config(config)
    result = {
        "changed": changed_config or changed_sanitized,
        "dest": p["dest"],
        "encrypted": bool(p["vault_password_file"]),
        "first_backup": existing is None,
        "lines": len(config.splitlines()),
        "sanitized_sha256": sha256(sanitized),
        "diff": diff[:MAX_DIFF_LINES],
        "diff_stats": stats,
        "hostname": running["hostname"] or version["hostname"],
        "model": version["model"],
        "version": version["version"],
        "serial": version["serial"],
    }
    if p["sanitized_dest"]:
        result["sanitized_dest"] = p["sanitized_dest"]
    if p["primary_port"] or p["backup_port"]:
        result["uplinks"] = uplinks(config, p["primary_port"], p["backup_port"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
