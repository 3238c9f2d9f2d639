"""hisguard.diagnosis: ranking likely causes from the incident_diagnose.yml document."""

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from hisguard import diagnosis as dg
from hisguard import incident

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
DF = [
    "Filesystem     1024-blocks     Used Available Capacity Mounted on",
    "overlay          264212084 28455968  77934944      27% /",
    "/dev/vda         264212084 28455968  77934944      27% /etc/hosts",
]
RUNNING = {"state": "running", "status": "enabled"}


def linux(groups, **extra):
    row = {
        "kind": "linux",
        "groups": groups,
        "reachable": True,
        "error": None,
        "services": {
            "ssh.service": RUNNING,
            "clamav-daemon.service": {"state": "inactive", "status": "disabled"},
        },
        "df": DF,
        "db": {"checked": False, "rc": None, "stdout": [], "stderr": ""},
        "backup": {"present": False},
    }
    row.update(extra)
    return row


def switch(role, primary_shut=False, backup_shut=True, reachable=True):
    return {
        "kind": "switch",
        "role": role,
        "reachable": reachable,
        "error": None if reachable else "core-sw: connection refused",
        "uplinks": {
            "primary": {"port": "TenGigabitEthernet1/1/1", "present": True, "shutdown": primary_shut},
            "backup": {"port": "TenGigabitEthernet1/1/2", "present": True, "shutdown": backup_shut},
        }
        if reachable
        else {},
    }


def healthy():
    his = linux(
        ["servers", "his_db"],
        services={
            "ssh.service": RUNNING,
            "postgresql.service": {"state": "stopped", "status": "enabled"},  # the oneshot wrapper
            "postgresql@15-main.service": {"state": "running", "status": "active"},
        },
        db={"checked": True, "rc": 0, "stdout": ["price_catalogue|200", "patients|2000"], "stderr": ""},
    )
    return {
        "schema": dg.SCHEMA,
        "hosts": {
            "srv-his": his,
            "srv-backup": linux(["servers", "backup_servers"]),
            "ws-01": linux(
                ["workstations"], services={"ssh.service": RUNNING, "clamav-daemon.service": RUNNING}
            ),
            "ws-02": linux(["workstations"]),
            "ws-03": linux(["workstations"]),
            "core-sw-01": switch("core"),
            "access-sw-01": switch("access"),
            "spare-sw-01": switch("spare"),
        },
    }


def keys(result):
    return [c.key for c in result.causes]


def test_a_healthy_lab_has_no_cause_and_one_warning_about_the_backup():
    result = dg.rank(healthy(), NOW)
    assert result.causes == [] and result.healthy
    assert any("backup" in w["en"] for w in result.warnings)
    checks = {(c.host, c.item): c for c in result.checks}
    assert checks[("srv-his", "postgresql")].ok is True
    assert checks[("srv-his", "database query")].observed.startswith("price_catalogue=200")
    assert checks[("ws-01", "clamd")].ok is True and ("ws-02", "clamd") not in checks  # disabled: not used
    assert checks[("srv-his", "disk /")].observed == "27% used"
    assert ("srv-his", "disk /etc/hosts") not in checks  # bind-mounted file, same filesystem


def test_his_db_down_comes_first_with_the_restart_command():
    doc = healthy()
    his = doc["hosts"]["srv-his"]
    his["services"]["postgresql@15-main.service"] = {"state": "stopped", "status": "active"}
    his["db"] = {"checked": True, "rc": 2, "stdout": [], "stderr": "psql: error: connection refused"}
    result = dg.rank(doc, NOW)
    top = result.causes[0]
    assert top.key == "his-db-down" and top.symptom == "server-down"
    assert top.command == "hisguard incident run restart-service --host srv-his --service postgresql"
    assert incident.classify([top.symptom], "hospital").cls == "1"


def test_a_database_that_runs_but_does_not_answer_suggests_a_restore():
    doc = healthy()
    doc["hosts"]["srv-his"]["db"] = {
        "checked": True,
        "rc": 1,
        "stdout": [],
        "stderr": 'relation "patients" missing',
    }
    top = dg.rank(doc, NOW).causes[0]
    assert top.key == "his-db-unhealthy"
    assert top.command == "hisguard incident run restore --host srv-his -e backup_restore_database=his"


def test_an_empty_price_catalogue_is_the_class_1_price_catalogue_symptom():
    doc = healthy()
    doc["hosts"]["srv-his"]["db"]["stdout"] = ["price_catalogue|0", "patients|2000"]
    top = dg.rank(doc, NOW).causes[0]
    assert (top.key, top.symptom, top.article) == (
        "price-catalogue-deleted",
        "price-catalogue-changed",
        "P3.8.1",
    )
    doc["hosts"]["srv-his"]["db"]["stdout"] = ["price_catalogue|200", "patients|0"]
    assert dg.rank(doc, NOW).causes[0].key == "master-data-lost"


def test_both_uplinks_down_suggests_failing_over_to_the_backup_fibre():
    doc = healthy()
    doc["hosts"]["core-sw-01"] = switch("core", primary_shut=True, backup_shut=True)
    top = dg.rank(doc, NOW).causes[0]
    assert top.key == "uplink-down" and top.symptom == "fiber-cut"
    assert top.command == "hisguard incident run failover-uplink --device core-sw-01 --apply"


def test_running_on_the_backup_uplink_is_low_and_suggests_failing_back():
    doc = healthy()
    doc["hosts"]["core-sw-01"] = switch("core", primary_shut=True, backup_shut=False)
    result = dg.rank(doc, NOW)
    assert keys(result) == ["on-backup-uplink"] and result.causes[0].score < 50
    assert result.causes[0].command.endswith("--device core-sw-01 --back --apply")


def test_a_dead_access_switch_is_replaced_by_the_reachable_spare():
    doc = healthy()
    doc["hosts"]["access-sw-01"] = switch("access", reachable=False)
    top = dg.rank(doc, NOW).causes[0]
    assert top.key == "switch-dead" and top.hosts == ("access-sw-01",)
    assert (
        top.command
        == "hisguard incident run replace-switch --failed access-sw-01 --spare spare-sw-01 --apply"
    )


def test_no_spare_means_no_command_and_a_dead_spare_is_a_warning():
    doc = healthy()
    doc["hosts"]["access-sw-01"] = switch("access", reachable=False)
    doc["hosts"]["spare-sw-01"] = switch("spare", reachable=False)
    result = dg.rank(doc, NOW)
    assert result.causes[0].command is None and "call the vendor" in result.causes[0].suggestion_en
    assert any("spare switch spare-sw-01" in w["en"] for w in result.warnings)


def test_workstations_unreachable_mean_a_local_outage_or_one_terminal():
    doc = healthy()
    for name in ("ws-01", "ws-02"):
        doc["hosts"][name] = {
            "kind": "linux",
            "groups": ["workstations"],
            "reachable": False,
            "error": "timeout",
        }
    assert keys(dg.rank(doc, NOW)) == ["local-network-outage"]
    one = healthy()
    one["hosts"]["ws-03"] = {
        "kind": "linux",
        "groups": ["workstations"],
        "reachable": False,
        "error": "timeout",
    }
    result = dg.rank(one, NOW)
    assert keys(result) == ["terminal-down"] and result.causes[0].symptom == "single-terminal-fault"


def test_an_unreachable_his_server_outranks_everything():
    doc = healthy()
    doc["hosts"]["srv-his"] = {"kind": "linux", "groups": ["his_db"], "reachable": False, "error": "no route"}
    doc["hosts"]["core-sw-01"] = switch("core", primary_shut=True, backup_shut=False)
    doc["hosts"]["ws-01"]["services"]["clamav-daemon.service"] = {"state": "stopped", "status": "enabled"}
    assert keys(dg.rank(doc, NOW)) == ["his-server-down", "on-backup-uplink", "clamd-down"]


def test_disk_thresholds():
    doc = healthy()
    doc["hosts"]["srv-his"]["df"] = [DF[0], "/dev/sda1 100 96 4 96% /var/lib/postgresql"]
    doc["hosts"]["srv-backup"]["df"] = [DF[0], "/dev/sdb1 100 91 9 91% /srv/backup"]
    result = dg.rank(doc, NOW)
    assert keys(result) == ["disk-full", "disk-nearly-full"]
    assert result.causes[0].score == 80 and result.causes[0].symptom == "server-unstable"


@pytest.mark.parametrize(
    "content,mtime,expected",
    [
        (json.dumps({"last_success": "2025-06-01T01:00:00Z"}), None, ("present", 2.0)),
        (
            json.dumps({"last_success": {"time": "x", "epoch": NOW.timestamp() - 3600, "snapshot_id": "ab"}}),
            None,
            ("present", 1.0),
        ),
        (json.dumps({"last_success": {"time": "2025-05-31T03:00:00+00:00"}}), None, ("present", 24.0)),
        (json.dumps({"last_success": None, "last_run": {"result": "failed"}}), 1.0, ("never", None)),
        (json.dumps({"snapshot_time": "2025-05-30T03:00:00+00:00"}), None, ("present", 48.0)),
        ("not json", (NOW - timedelta(hours=5)).timestamp(), ("present", 5.0)),
        ("not json", None, ("unreadable", None)),
    ],
)
def test_backup_status_file(content, mtime, expected):
    state, age = dg.parse_backup_status({"present": True, "content": content, "mtime": mtime}, NOW)
    assert (state, None if age is None else round(age, 1)) == expected
    assert dg.parse_backup_status({"present": False}, NOW) == ("missing", None)


def test_an_old_backup_is_a_warning_not_a_cause():
    doc = healthy()
    doc["hosts"]["srv-his"]["backup"] = {
        "present": True,
        "content": json.dumps({"last_success": "2025-05-29T00:00:00Z"}),
    }
    result = dg.rank(doc, NOW)
    assert result.causes == [] and any("75 h old" in w["en"] for w in result.warnings)


def test_a_document_without_hosts_is_rejected():
    with pytest.raises(dg.DiagnosisError):
        dg.rank({"schema": dg.SCHEMA}, NOW)
    doc = copy.deepcopy(healthy())
    assert json.loads(json.dumps(dg.rank(doc, NOW).to_json()))["causes"] == []
