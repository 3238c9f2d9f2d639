"""plugins/module_utils/asset_register.py: rows from facts and `show version`, CSV out and in (zh/en headers,
UTF-8 BOM, GB18030), and the reconciliation (账物相符)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "asset_register", ROOT / "plugins/module_utils/asset_register.py"
)
ar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ar)

FACTS = {
    "system_vendor": "Dell Inc.",
    "product_name": "PowerEdge R740",
    "product_serial": "7XK2Q53",
    "processor": [
        "0",
        "GenuineIntel",
        "Intel(R) Xeon(R) Silver 4214",
        "1",
        "GenuineIntel",
        "Intel(R) Xeon(R) Silver 4214",
    ],
    "processor_vcpus": 2,
    "memtotal_mb": 64000,
    "devices": {"sda": {"size": "480.00 GB"}, "loop0": {"size": "0"}, "sdb": {"size": "4.00 TB"}},
    "distribution": "Debian",
    "distribution_version": "12.7",
}
SWITCH = {"model": "WS-C3750X-24T-S", "serial": "FDO1734X1AB", "version": "15.2(4)E10"}


def test_linux_row():
    assert ar.linux_row("srv-his", "server", "10.77.10.10", FACTS) == {
        "asset_id": "",
        "host": "srv-his",
        "kind": "server",
        "vendor": "Dell Inc.",
        "model": "PowerEdge R740",
        "serial": "7XK2Q53",
        "cpu": "Intel(R) Xeon(R) Silver 4214 x2",
        "memory_mb": "64000",
        "disks": "sda 480.00 GB; sdb 4.00 TB",
        "os": "Debian 12.7",
        "address": "10.77.10.10",
    }


def test_placeholders_are_empty():
    row = ar.linux_row(
        "ws-01", "workstation", None, {"product_serial": "NA", "product_name": "To Be Filled By O.E.M."}
    )
    assert (row["serial"], row["model"], row["cpu"], row["address"]) == ("", "", "", "")


def test_switch_row():
    row = ar.switch_row("core-sw-01", "10.99.0.2", SWITCH)
    assert (row["kind"], row["model"], row["serial"], row["os"]) == (
        "switch",
        "WS-C3750X-24T-S",
        "FDO1734X1AB",
        "IOS 15.2(4)E10",
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_csv_round_trip_in_both_languages(lang):
    rows = [
        ar.linux_row("srv-his", "server", "10.77.10.10", FACTS),
        ar.switch_row("core-sw-01", "10.99.0.2", SWITCH),
    ]
    text = ar.to_csv(rows, lang)
    assert text.splitlines()[0].startswith(
        "资产编号,主机名,设备类型" if lang == "zh" else "Asset number,Host,Type"
    )
    assert ("服务器" in text) == (lang == "zh")
    assert ar.parse_register(text) == rows


def test_register_encodings():
    text = ar.to_csv([ar.switch_row("core-sw-01", "10.99.0.2", SWITCH)])
    for data in (("\ufeff" + text).encode("utf-8"), text.encode("gb18030")):
        assert ar.parse_register(ar.decode_register(data))[0]["kind"] == "switch"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("资产编号,型号\nA1,x\n", "no host column"),
        ("主机名\nws-01\nws-01\n", "listed twice"),
        ("主机名,型号\n,x\n", "line 2 of the register file has no host name"),
    ],
)
def test_bad_register_files(text, message):
    with pytest.raises(ar.AssetError, match=message):
        ar.parse_register(text)


def test_reconcile_lists_every_difference():
    floor = [
        ar.linux_row("srv-his", "server", "10.77.10.10", FACTS),
        ar.switch_row("core-sw-01", "10.99.0.2", SWITCH),
    ]
    floor.append(ar.linux_row("ws-04", "workstation", "10.77.10.24", FACTS))
    register = [dict(row) for row in floor[:2]]
    register[0]["asset_id"] = "HIS-001"
    register[1].update(serial="FDO0000X000", memory_mb="")
    register.append({**floor[0], "host": "ws-99", "asset_id": "HIS-099"})
    register.append({**floor[0], "host": "ws-03", "asset_id": "HIS-003"})
    found = ar.reconcile(floor, register, unreachable=["ws-03"])
    assert [(d["host"], d["kind"], d["field"]) for d in found] == [
        ("core-sw-01", "no_asset_id", None),
        ("core-sw-01", "mismatch", "serial"),
        ("ws-03", "unreachable", None),
        ("ws-04", "missing_in_register", None),
        ("ws-99", "missing_on_floor", None),
    ]
    assert found[1]["register"] == "FDO0000X000" and found[1]["observed"] == "FDO1734X1AB"
    assert ar.reconcile(floor[:1], register[:1]) == []
    assert ar.with_asset_ids(floor[:1], register)[0]["asset_id"] == "HIS-001"
