"""roles/inspection/files/inspection_probe.py: UPS, services, disks, backup, SMART, kernel log, uptime,
hardware age, switches, and the verdict per control."""

import datetime
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "inspection_probe", ROOT / "roles" / "inspection" / "files" / "inspection_probe.py"
)
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)

UPSC_ONLINE = """\
battery.charge: 100
battery.runtime: 2400
device.model: Smart-UPS 3000
ups.load: 23
ups.status: OL
"""


def test_ups_online_is_ok():
    item = probe.check_ups("lab-ups", probe.parse_upsc(UPSC_ONLINE), 50, 300, 80)
    assert item["status"] == "ok" and item["control"] == "P2.7.3"
    assert item["summary"] == "UPS lab-ups OL (charge 100%, runtime 2400 s, load 23%)"


def test_ups_on_battery_is_an_alarm_with_the_charge():
    values = probe.parse_upsc(UPSC_ONLINE.replace("OL", "OB DISCHRG").replace("charge: 100", "charge: 64"))
    item = probe.check_ups("lab-ups", values, 50, 300, 80)
    assert (
        item["status"] == "alarm" and "on battery (OB)" in item["summary"] and "charge 64%" in item["summary"]
    )
    assert item["detail"]["charge"] == 64 and item["detail"]["ups_status"] == "OB DISCHRG"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("charge: 100", "charge: 30"), "battery charge 30% < 50%"),
        (("runtime: 2400", "runtime: 120"), "runtime 120 s < 300 s"),
        (("load: 23", "load: 95"), "load 95% > 80%"),
        (("ups.status: OL", "ups.status: OL RB"), "replace battery (RB)"),
    ],
)
def test_ups_limits(change, expected):
    item = probe.check_ups("u", probe.parse_upsc(UPSC_ONLINE.replace(*change)), 50, 300, 80)
    assert item["status"] == "alarm" and expected in item["summary"]


def test_ups_without_status_is_an_error():
    assert probe.check_ups("u", {}, 50, 300, 80)["status"] == "error"


def test_services():
    shown = (
        "LoadState=loaded\nActiveState=active\nSubState=running\n\n"
        "LoadState=not-found\nActiveState=inactive\n"
    )
    item = probe.check_services(["ssh", "postgresql"], probe.parse_systemctl_show(shown))
    assert item["status"] == "alarm" and item["summary"] == "postgresql is not-found"
    shown = "LoadState=loaded\nActiveState=failed\nSubState=failed\n"
    assert probe.check_services(["rsyslog"], probe.parse_systemctl_show(shown))["summary"] == (
        "rsyslog is failed (failed)"
    )


def test_real_mounts_skip_pseudo_file_systems():
    mounts = (
        "overlay / overlay rw 0 0\nproc /proc proc rw 0 0\ntmpfs /run tmpfs rw 0 0\n"
        "/dev/vda1 /srv\\040x ext4 rw 0 0\n"
    )
    assert probe.real_mounts(mounts) == [("/", "overlay", "overlay"), ("/srv x", "ext4", "/dev/vda1")]


def test_disk_usage_and_thresholds():
    assert probe.usage_percent(100, 40, 30) == 67  # used 60 of 90 available to users, rounded up as df does
    assert probe.check_disk("/", 50, 5, 80, 90, "ext4")["status"] == "ok"
    assert probe.check_disk("/", 85, 5, 80, 90, "ext4")["status"] == "warning"
    alarm = probe.check_disk("/var", 40, 95, 80, 90, "ext4")
    assert alarm["status"] == "alarm" and "inodes 95%" in alarm["summary"]


NOW = 1_800_000_000.0


def test_backup_absent_recent_old_and_failed():
    assert probe.check_backup(None, NOW, 26, "/s.json")["status"] == "warning"
    good = {
        "last_success": {"epoch": NOW - 3600, "time": "t", "short_id": "abcd"},
        "last_run": {"result": "success"},
    }
    assert probe.check_backup(good, NOW, 26, "/s.json")["status"] == "ok"
    old = {"last_success": {"epoch": NOW - 30 * 3600, "time": "t", "short_id": "abcd"}}
    assert probe.check_backup(old, NOW, 26, "/s.json")["status"] == "alarm"
    failed = {**good, "last_run": {"result": "failed", "error": {"message": "repository locked"}}}
    item = probe.check_backup(failed, NOW, 26, "/s.json")
    assert item["status"] == "warning" and "repository locked" in item["summary"]
    assert probe.check_backup({"history": []}, NOW, 26, "/s.json")["status"] == "alarm"


def test_smart():
    assert probe.check_smart(127, "", {})[0]["status"] == "not_applicable"
    assert probe.check_smart(0, "", {})[0]["status"] == "not_applicable"
    scan = "/dev/sda -d sat # /dev/sda, ATA device\n/dev/sdb -d sat # /dev/sdb\n"
    health = {
        "/dev/sda": (0, "SMART overall-health self-assessment test result: PASSED"),
        "/dev/sdb": (8, "SMART overall-health self-assessment test result: FAILED!"),
    }
    assert [i["status"] for i in probe.check_smart(0, scan, health)] == ["ok", "alarm"]


def test_fs_errors():
    assert probe.check_fs_errors([], False)["status"] == "not_applicable"
    lines = ["kernel: eth0 up", "kernel: EXT4-fs error (device vda1): ext4_find_entry:1455: inode #2"]
    item = probe.check_fs_errors(lines, True)
    assert item["status"] == "alarm" and item["detail"]["lines"] == lines[1:]
    assert probe.check_fs_errors(lines[:1], True)["status"] == "ok"


def test_uptime():
    assert probe.check_uptime(10 * 86400, 180)["status"] == "ok"
    assert probe.check_uptime(200 * 86400, 180)["status"] == "warning"


def test_hardware_age():
    today = datetime.date(2026, 11, 27)
    assert probe.check_hardware_age(None, today, 180)["status"] == "not_applicable"
    entry = {"purchased": "2020-01-01", "lifetime_years": 6, "asset": "SRV-001"}
    due = probe.check_hardware_age(entry, today, 180)
    assert due["status"] == "alarm" and due["subject"] == "SRV-001" and due["detail"]["due"] == "2026-01-01"
    soon = probe.check_hardware_age({**entry, "purchased": "2021-03-01"}, today, 180)
    assert soon["status"] == "warning"
    assert probe.check_hardware_age({**entry, "purchased": "2025-01-01"}, today, 180)["status"] == "ok"
    assert probe.check_hardware_age({"purchased": "yesterday"}, today, 180)["status"] == "error"


def _switch(primary_shut, backup_shut):
    return {
        "model": "WS-C2960X",
        "version": "15.2",
        "interfaces": {"Gi1/0/1": {"shutdown": False}, "Gi1/0/2": {"shutdown": True}},
        "uplinks": {
            "primary": {"port": "Te1/0/1", "present": True, "shutdown": primary_shut},
            "backup": {"port": "Te1/0/2", "present": True, "shutdown": backup_shut},
        },
    }


def test_switch_states():
    ok = probe.check_switch("sw", _switch(False, True), None)
    assert ok["status"] == "ok" and "1 of 2 interfaces enabled" in ok["summary"]
    assert probe.check_switch("sw", _switch(True, False), None)["status"] == "warning"
    assert probe.check_switch("sw", _switch(True, True), None)["status"] == "alarm"
    down = probe.check_switch("sw", {}, "timed out")
    assert down["status"] == "alarm" and "does not answer" in down["summary"]


def test_monthly_switch_check_counts_for_the_monthly_control():
    result = probe.probe({**probe.DEFAULTS, "kind": "monthly", "switch": "sw", "facts": _switch(False, True)})
    assert [i["control"] for i in result["items"]] == ["P2.4.2", "P2.4.5"]
    assert result["controls"]["P2.4.5"]["status"] == "not_applicable"


def test_verdicts():
    def item(name, status):
        return probe.item(name, "-", status, f"{name} {status}")

    verdicts = probe.verdicts(
        [item("services", "ok"), item("disk", "warning"), item("ups", "alarm"), item("backup", "warning")]
    )
    assert verdicts["P2.4.8"] == {
        "status": "pass",
        "observed": ["[warning] disk warning", "[ok] services ok"],
    }
    assert verdicts["P2.7.3"]["status"] == "fail"
    assert verdicts["P2.6.8"]["status"] == "fail"  # only a warning: nothing confirmed
    assert probe.verdicts([item("smart", "not_applicable")])["P2.4.2"]["status"] == "not_applicable"
    assert probe.verdicts([item("disk", "error"), item("services", "alarm")])["P2.4.8"]["status"] == "error"


def test_bad_input_exits_2(capsys):
    assert probe.main(["probe", "{not json"]) == 2
    assert probe.main(["probe", '{"kind": "weekly"}']) == 2
    assert "usage" in capsys.readouterr().err
