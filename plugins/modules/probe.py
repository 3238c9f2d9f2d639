# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
# The work is done by the action plugin plugins/action/probe.py; this file holds the documentation that
# ansible-doc renders.

DOCUMENTATION = r"""
---
module: probe
short_description: Run a read-only program on the host in one remote command
version_added: "0.1.0"
description:
  - Runs a role's read-only probe (a Python program or a shell script) on the host and returns its
    output, like M(ansible.builtin.script), in one remote command and without writing a file on the host.
  - A Python program is compressed together with the data given in O(stdin), which the program reads as its
    standard input, and run by C(python3 -c <bootstrap>). The package travels on the command's standard
    input where the connection can pipe (ssh, local), and inside the command otherwise (podman).
    A C(.sh) script runs as C(bash -c).
  - Becomes root like any task.
  - The task's C(environment) is set for the program.
  - Returns C(changed=false); a non-zero exit fails the task unless C(failed_when) says otherwise.
options:
  script:
    description: A file in the role's C(files/) directory (C(.py) runs with Python, C(.sh) with bash).
    type: str
  source:
    description: The program's text instead of a file, for example a module_utils helper read with a lookup.
    type: str
  name:
    description: The program's name on the host (C(sys.argv[0]), C($0)); defaults to O(script) or C(probe.py).
    type: str
  argv:
    description: The program's arguments, each passed as one word.
    type: list
    elements: str
    default: []
  stdin:
    description: Data the program reads on its standard input (Python programs only).
    type: str
  executable:
    description:
      - The interpreter. Defaults to C(/bin/bash) for a C(.sh) script, else to C(ansible_python_interpreter)
        when it names one, else C(python3).
    type: str
notes:
  - The command, program included, must stay under 120 000 bytes (Linux caps one argument at 128 KiB);
    a larger one fails the task with a message before anything runs.
  - Never pass secrets in O(argv), or in O(stdin) over podman; the command is visible in the host's
    process list.
attributes:
  check_mode:
    support: full
    details: The program runs in check mode too; it must only read.
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - hisguard developers
"""

EXAMPLES = r"""
- name: P1.3.6 | AUDIT | read the module blocks
  hisguard.infosec.probe:
    script: removable_media_probe.py
    argv: [--module=usb_storage, --file=/etc/udev/rules.d/99-hisguard-usb.rules]
  register: probe_run
  check_mode: false

- name: P1.2.7 | AUDIT | read accounts (the parameters on stdin)
  hisguard.infosec.probe:
    script: accounts_info.py
    stdin: "{{ {'params': {'system_uid_max': 999}} | to_json }}"
  register: accounts_read
"""

RETURN = r"""
rc:
  description: The program's exit status.
  returned: always
  type: int
stdout:
  description: Its standard output.
  returned: always
  type: str
stdout_lines:
  description: RV(stdout) split into lines.
  returned: always
  type: list
  elements: str
stderr:
  description: Its standard error.
  returned: always
  type: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: always
  type: list
  elements: str
"""
