# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""The options every switch module takes to reach its device (module_utils CONNECTION_ARGUMENT_SPEC)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  host:
    description: Address of the switch's SSH service.
    type: str
    required: true
  port:
    description: TCP port of the switch's SSH service.
    type: int
    default: 22
  username:
    description: Login name.
    type: str
    required: true
  password:
    description: Login password (never logged).
    type: str
    required: true
  secret:
    description: Enable secret, needed when the login lands in user EXEC mode (prompt C(>)); never logged.
    type: str
  timeout:
    description: Seconds to wait for the TCP connection, the login and each command's output.
    type: int
    default: 30
  known_hosts:
    description:
      - OpenSSH known_hosts file holding the switch's host key (C([host]:port keytype key) for
        ports other than 22). When set, an unknown or changed host key fails the task.
      - When unset, the host key is not verified.
    type: path
requirements:
  - netmiko (Python library) on the controller
"""
