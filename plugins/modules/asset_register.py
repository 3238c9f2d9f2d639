# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: asset_register
short_description: Write the equipment register (设备台账) and reconcile it with a register file
version_added: "0.1.0"
description:
  - Builds one row per device (asset number, host, type, vendor, model, serial, CPU, memory, disks, OS or
    software version, management address) from Linux hosts' hardware facts and switches' C(show version)
    (M(hisguard.infosec.switch_facts)).
  - Writes C(assets-DATE.csv) (UTF-8 with a BOM so that Excel opens the Chinese headers) and
    C(assets-DATE.json) into O(dest).
  - >-
    With O(reconcile), compares the devices with a register file (CSV with the same columns, zh or en
    headers, UTF-8 or GB18030) and returns every difference (账物相符) - devices missing in the register,
    register entries missing on the floor, unreachable devices, entries without an asset number, and field
    mismatches.
  - Runs on the controller (C(delegate_to) C(localhost) or a play on localhost).
options:
  devices:
    description:
      - "One entry per device: C(host), C(kind) (server, workstation, switch, other), C(address), and C(facts)
        (Ansible facts of a Linux host) or C(switch) (the result of switch_facts); C(reachable) false when the
        device could not be read."
    type: list
    elements: dict
    required: true
  dest:
    description: Directory for the CSV and JSON files (created with mode 0750).
    type: path
    required: true
  lang:
    description: Language of the CSV headers and device types.
    type: str
    choices: [zh, en]
    default: zh
  stamp:
    description: Date in the file names (default today, YYYY-MM-DD).
    type: str
  reconcile:
    description: Register file to reconcile with; omit to only write the register.
    type: path
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - hisguard developers
"""

EXAMPLES = r"""
- name: Write the equipment register and reconcile it with last year's
  hisguard.infosec.asset_register:
    devices: "{{ asset_register_devices }}"
    dest: /var/lib/hisguard/registers
    reconcile: /srv/registers/设备台账-2025.csv
  delegate_to: localhost
  register: assets
"""

RETURN = r"""
csv:
  description: Path of the CSV file written (not written in check mode).
  returned: always
  type: str
json:
  description: Path of the JSON file written.
  returned: always
  type: str
rows:
  description:
    - The register rows, by field key (asset_id, host, kind, vendor, model, serial, cpu, memory_mb, disks,
      os, address).
  returned: always
  type: list
  elements: dict
unreachable:
  description: Devices that could not be read.
  returned: always
  type: list
  elements: str
reconciled:
  description: Whether a register file was compared.
  returned: always
  type: bool
differences:
  description:
    - "Every difference: C(host), C(kind) (missing_in_register, missing_on_floor, unreachable, no_asset_id,
      mismatch), and for a mismatch C(field), C(register) and C(observed)."
  returned: always
  type: list
  elements: dict
"""

import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.hisguard.infosec.plugins.module_utils import asset_register  # noqa: E402


def build_rows(devices):
    rows, unreachable = [], []
    for device in devices:
        host = str(device["host"])
        if not device.get("reachable", True) or not (device.get("facts") or device.get("switch")):
            unreachable.append(host)
        elif device.get("kind") == "switch":
            rows.append(asset_register.switch_row(host, device.get("address"), device["switch"]))
        else:
            rows.append(
                asset_register.linux_row(
                    host, device.get("kind") or "other", device.get("address"), device["facts"]
                )
            )
    return sorted(rows, key=lambda row: row["host"]), sorted(unreachable)


def write(path, data, module):
    """Write bytes when they differ; returns whether the file changed."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except FileNotFoundError:
        pass
    if not module.check_mode:
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    return True


def main():
    module = AnsibleModule(
        argument_spec={
            "devices": {"type": "list", "elements": "dict", "required": True},
            "dest": {"type": "path", "required": True},
            "lang": {"type": "str", "choices": ["zh", "en"], "default": "zh"},
            "stamp": {"type": "str"},
            "reconcile": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    rows, unreachable = build_rows(params["devices"])
    register, differences = None, []
    if params["reconcile"]:
        try:
            with open(params["reconcile"], "rb") as handle:
                register = asset_register.parse_register(asset_register.decode_register(handle.read()))
        except OSError as err:
            module.fail_json(msg=f"cannot read the register file {params['reconcile']}: {err.strerror}")
        except asset_register.AssetError as err:
            module.fail_json(msg=f"register file {params['reconcile']}: {err}")
        differences = asset_register.reconcile(rows, register, unreachable)
        rows = asset_register.with_asset_ids(rows, register)

    stamp = params["stamp"] or datetime.date.today().isoformat()
    base = os.path.join(params["dest"], f"assets-{stamp}")
    document = {
        "date": stamp,
        "rows": rows,
        "unreachable": unreachable,
        "reconciled_with": params["reconcile"],
        "differences": differences,
    }
    if not module.check_mode:
        os.makedirs(params["dest"], mode=0o750, exist_ok=True)
    changed = write(
        f"{base}.csv", ("\ufeff" + asset_register.to_csv(rows, params["lang"])).encode("utf-8"), module
    )
    changed |= write(
        f"{base}.json", json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"), module
    )
    module.exit_json(
        changed=changed,
        csv=f"{base}.csv",
        json=f"{base}.json",
        rows=rows,
        unreachable=unreachable,
        reconciled=register is not None,
        differences=differences,
    )


if __name__ == "__main__":
    main()
