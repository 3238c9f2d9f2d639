"""hisguard.report.registers: the register section from a run's results (P2.4.1, P2.6.5, P1.3.5)."""

from hisguard.report.registers import build_registers
from hisguard.results import Result

ROW = {"asset_id": "HIS-001", "host": "core-sw-01", "kind": "switch", "serial": "FDO1734X1AB"}
DIFF = {"host": "ws-99", "kind": "missing_on_floor", "field": None, "register": None, "observed": None}
SWEEP = {
    "unknown": [{"address": "10.77.10.99", "mac": "1e:64:9c:1f:0a:4c", "mac_registered_to": None}],
    "mac_mismatch": [],
    "known": 7,
}


def test_no_register_results_no_section():
    assert build_registers([Result(host="ws-01", control="P1.3.6", status="pass")], "zh") is None


def test_section_in_both_languages():
    results = [
        Result(host="core-sw-01", control="P2.4.1", status="pass", evidence={"row": ROW}),
        Result(host="localhost", control="P2.6.5", status="fail", observed={"differences": [DIFF]}),
        Result(host="srv-backup", control="P1.3.5", status="fail", observed=SWEEP),
    ]
    zh = build_registers(results, "zh")
    assert zh.assets[0]["kind"] == "交换机" and zh.header("serial") == "序列号"
    assert zh.differences == [DIFF]
    assert zh.scanner == "srv-backup" and zh.unknown[0]["address"] == "10.77.10.99"
    en = build_registers(results, "en")
    assert en.assets[0]["kind"] == "switch" and en.header("serial") == "Serial number"
    assert ROW["kind"] == "switch"  # the results are not changed
