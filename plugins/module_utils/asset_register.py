# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""The equipment register (设备台账, P2.4.1 / P2.6.5): rows built from gathered facts, CSV in and out,
and the reconciliation with a register file (账物相符). Plain functions, used by the asset_register
module and unit-tested.
"""

from __future__ import annotations

import csv
import io

# (key, zh header, en header); asset_id is kept by people (the register file), never observed.
FIELDS = (
    ("asset_id", "资产编号", "Asset number"),
    ("host", "主机名", "Host"),
    ("kind", "设备类型", "Type"),
    ("vendor", "厂商", "Vendor"),
    ("model", "型号", "Model"),
    ("serial", "序列号", "Serial number"),
    ("cpu", "处理器", "CPU"),
    ("memory_mb", "内存(MB)", "Memory (MB)"),
    ("disks", "磁盘", "Disks"),
    ("os", "操作系统/软件版本", "OS / software version"),
    ("address", "管理地址", "Management address"),
)
KEYS = tuple(key for key, _, _ in FIELDS)
COMPARED = ("kind", "vendor", "model", "serial", "cpu", "memory_mb", "disks", "os", "address")
KINDS = {"server": "服务器", "workstation": "工作站", "switch": "交换机", "other": "其他"}
_UNKNOWN = ("", "na", "n/a", "none", "null", "to be filled by o.e.m.", "default string")
_SKIPPED_DISKS = ("loop", "ram", "dm-", "sr", "zram", "nbd", "md")


class AssetError(ValueError):
    """A register file that cannot be read; the message says what to fix."""


def _clean(value):
    text = "" if value is None else str(value).strip()
    return "" if text.lower() in _UNKNOWN else text


def _cpu(facts):
    names = [p for p in facts.get("processor") or [] if not str(p).isdigit()]
    model = names[1] if len(names) > 1 else (names[0] if names else "")
    count = facts.get("processor_vcpus") or facts.get("processor_count")
    return f"{model} x{count}" if model and count else _clean(model)


def _disks(facts):
    disks = []
    for name, device in sorted((facts.get("devices") or {}).items()):
        if name.startswith(_SKIPPED_DISKS) or not isinstance(device, dict):
            continue
        disks.append(f"{name} {device.get('size', '?')}")
    return "; ".join(disks)


def linux_row(host, kind, address, facts):
    """A register row from a Linux host's Ansible facts (hardware subset)."""
    os_name = " ".join(
        part for part in (facts.get("distribution"), facts.get("distribution_version")) if _clean(part)
    )
    return {
        "asset_id": "",
        "host": host,
        "kind": kind,
        "vendor": _clean(facts.get("system_vendor")),
        "model": _clean(facts.get("product_name")),
        "serial": _clean(facts.get("product_serial")),
        "cpu": _cpu(facts),
        "memory_mb": str(facts.get("memtotal_mb") or ""),
        "disks": _disks(facts),
        "os": os_name,
        "address": address or "",
    }


def switch_row(host, address, switch):
    """A register row from hisguard.infosec.switch_facts (`show version`)."""
    version = _clean(switch.get("version"))
    return {
        "asset_id": "",
        "host": host,
        "kind": "switch",
        "vendor": "Cisco",
        "model": _clean(switch.get("model")),
        "serial": _clean(switch.get("serial")),
        "cpu": "",
        "memory_mb": "",
        "disks": "",
        "os": f"IOS {version}" if version else "",
        "address": address or "",
    }


def to_csv(rows, lang="zh"):
    """CSV text with zh (default) or en headers; kinds in the same language. The caller adds the BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([zh if lang == "zh" else en for _, zh, en in FIELDS])
    for row in rows:
        values = dict(row)
        if lang == "zh":
            values["kind"] = KINDS.get(values.get("kind"), values.get("kind"))
        writer.writerow([values.get(key, "") for key in KEYS])
    return out.getvalue()


def decode_register(data):
    """Register file bytes -> text: UTF-8 (with or without BOM) or GB18030 (what Excel saves in China)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssetError("the register file is neither UTF-8 nor GB18030 text")


def parse_register(text):
    """Rows of a register CSV with zh or en headers (the columns hisguard writes; extra columns ignored)."""
    headers = {}
    for key, zh, en in FIELDS:
        headers[zh] = headers[en] = headers[key] = key
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise AssetError("the register file is empty") from None
    columns = [headers.get(name.strip()) for name in header]
    if "host" not in columns:
        raise AssetError(
            f"the register file has no host column (主机名 or Host); its columns are {', '.join(header)}"
        )
    rows, seen = [], set()
    kinds = {v: k for k, v in KINDS.items()}
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        row = {key: "" for key in KEYS}
        for key, value in zip(columns, values, strict=False):
            if key:
                row[key] = value.strip()
        row["kind"] = kinds.get(row["kind"], row["kind"])
        if not row["host"]:
            raise AssetError(f"line {number} of the register file has no host name")
        if row["host"] in seen:
            raise AssetError(f"host {row['host']} is listed twice in the register file (line {number})")
        seen.add(row["host"])
        rows.append(row)
    return rows


def reconcile(observed, register, unreachable=()):
    """Every difference between the devices found and the register, by host.

    -> [{"host", "kind": missing_in_register | missing_on_floor | unreachable | no_asset_id | mismatch,
         "field", "register", "observed"}]
    """
    found = {row["host"]: row for row in observed}
    listed = {row["host"]: row for row in register}
    differences = []
    for host in sorted(set(found) | set(listed) | set(unreachable)):
        row, entry = found.get(host), listed.get(host)
        if host in unreachable:
            differences.append(_difference(host, "unreachable"))
        elif entry is None:
            differences.append(_difference(host, "missing_in_register"))
        elif row is None:
            differences.append(_difference(host, "missing_on_floor"))
        else:
            if not entry["asset_id"]:
                differences.append(_difference(host, "no_asset_id"))
            for key in COMPARED:
                if entry.get(key, "") != row.get(key, ""):
                    differences.append(
                        _difference(host, "mismatch", key, entry.get(key, ""), row.get(key, ""))
                    )
    return differences


def _difference(host, kind, field=None, register=None, observed=None):
    return {"host": host, "kind": kind, "field": field, "register": register, "observed": observed}


def with_asset_ids(rows, register):
    """The rows with the asset numbers the register gives them (the numbers are kept by people)."""
    ids = {entry["host"]: entry["asset_id"] for entry in register}
    return [{**row, "asset_id": ids.get(row["host"], row["asset_id"])} for row in rows]
