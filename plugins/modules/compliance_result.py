# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
# The work is done by the action plugin plugins/action/compliance_result.py on the controller;
# this file holds the documentation that ansible-doc renders.

DOCUMENTATION = r"""
---
module: compliance_result
short_description: Record one compliance result (host, control, status, evidence)
version_added: "0.1.0"
description:
  - Records the result of one check of one control of the health-sector IT management rules on
    the current host. Every role reports through this action, and the C(hisguard.infosec.compliance)
    callback plugin writes all results of the run into one JSON file among the run's artifacts.
  - Runs on the controller only; it never connects to the host.
  - The control ID must exist in the collection's control catalog (C(controls/catalog.yml));
    an unknown ID fails the task and is recorded with status C(error).
  - Waivers come from the variable C(hisguard_waivers) (group_vars, or C(hisguard audit --waivers FILE)).
    A covering waiver that has not expired turns C(fail) and C(error) into C(waived) and is attached
    to the result; an expired one does not waive and is attached as C(expired_waiver).
    A waiver is valid through its C(expires) day.
  - A waiver with a missing field or an unknown control ID fails the task with a message naming it.
  - Always returns C(changed=false); a failed check is a result, not a failed task.
options:
  control:
    description: Control ID from the catalog, for example C(P1.3.6).
    type: str
    required: true
  passed:
    description:
      - Whether the check passed (status C(pass)) or failed (status C(fail)).
      - Mutually exclusive with O(status); one of the two is required.
    type: bool
  status:
    description:
      - Report C(error) (the check could not be made) or C(not_applicable) instead of pass/fail.
    type: str
    choices: [error, not_applicable]
  observed:
    description: What was observed on the host (string, list or mapping).
    type: raw
  expected:
    description: What the control expects.
    type: raw
  remediation:
    description: How to fix a failure (shown in reports).
    type: str
  evidence:
    description: Further evidence (file contents, command output, versions) as a mapping.
    type: dict
    default: {}
notes:
  - Waiver fields are C(control), C(hosts) (host names or globs) and/or C(groups) (group names or
    globs), C(reason), C(approver), C(ticket), C(expires) (YYYY-MM-DD), and optionally C(id), C(note).
  - The catalog path can be overridden with the environment variable E(HISGUARD_CATALOG).
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: all
author:
  - hisguard developers
"""

EXAMPLES = r"""
- name: P1.3.6 | AUDIT | usb-storage is blocked
  hisguard.infosec.compliance_result:
    control: P1.3.6
    passed: "{{ 'install usb-storage /bin/false' in usb_modprobe.stdout }}"
    observed: "{{ usb_modprobe.stdout | default('no modprobe rule') }}"
    expected: install usb-storage /bin/false
    remediation: run `hisguard harden --tags P1.3.6` or add the modprobe rule by hand
    evidence:
      file: /etc/modprobe.d/hisguard-usb.conf

- name: P3.8.5 | AUDIT | restore drill evidence could not be read
  hisguard.infosec.compliance_result:
    control: P3.8.5
    status: error
    observed: "{{ drill_log.msg }}"

# group_vars/workstations.yml
# hisguard_waivers:
#   - control: P1.3.6
#     groups: [radiology_workstations]
#     reason: PACS viewer imports studies from CD until the network import ships
#     approver: 信息科 王主任
#     ticket: OA-2025-0412
#     expires: 2025-12-31
"""

RETURN = r"""
hisguard_result:
  description: The recorded result, collected by the hisguard.infosec.compliance callback.
  returned: always
  type: dict
  contains:
    host:
      description: Inventory host name.
      type: str
    control:
      description: Control ID.
      type: str
    status:
      description: One of pass, fail, error, waived, not_applicable.
      type: str
    observed:
      description: What was observed.
      type: raw
    expected:
      description: What was expected.
      type: raw
    remediation:
      description: How to fix a failure.
      type: str
    evidence:
      description: Further evidence.
      type: dict
    waiver:
      description: The waiver that waived this result, if any.
      type: dict
    expired_waiver:
      description: An expired waiver that covered this result and no longer waives it.
      type: dict
    task:
      description: Name of the task that reported the result.
      type: str
    role:
      description: Role that reported the result, if any.
      type: str
    time:
      description: UTC time of the check, ISO 8601.
      type: str
msg:
  description: One-line summary, for example C(P1.3.6 waived (waiver OA-2025-0412, until 2025-12-31)).
  returned: always
  type: str
"""
