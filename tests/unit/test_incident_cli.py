"""`hisguard incident ...` end to end without the lab: open, status, mark, log, classify, resolve,
review, report (HTML self-contained, zh/en, JSON), and clear errors for bad input."""

import json
import re

import pytest

from hisguard.commands import incident as cmd


@pytest.fixture
def var(tmp_path, monkeypatch):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("HISGUARD_DB", str(tmp_path / "var" / "hisguard.db"))
    monkeypatch.setenv("HISGUARD_ACTOR", "oncall-wang")
    monkeypatch.delenv("HISGUARD_INCIDENT_CONFIG", raising=False)
    return tmp_path / "var"


def run(capsys, *argv):
    code = cmd.main(["incident", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_class_1_incident_from_open_to_report(var, capsys):
    code, out, _ = run(capsys, "open", "--symptom", "光纤损坏", "--summary", "核心交换机主光纤中断")
    assert code == 0 and "一类故障" in out and "fiber-cut→1" in out
    assert "hisguard incident mark told it-director emergency-leader" in out
    code, out, _ = run(capsys, "status", "--lang", "en")
    assert code == 0 and "Tell now" in out and "Next deadline" in out and "30 min" in out
    assert run(capsys, "mark", "told", "--due")[0] == 0
    assert run(capsys, "log", "carrier says: excavator at km 3")[0] == 0
    assert run(capsys, "mark", "paper", "pharmacy", "outpatient-billing")[0] == 0
    code, out, _ = run(capsys, "status", "--json")
    status = json.loads(out)
    assert status["tell_now"] == [] and status["class"] == "1" and status["phase"] == "open"
    assert run(capsys, "resolve", "--summary", "traffic on the backup fibre")[0] == 0
    assert run(capsys, "mark", "resumed")[0] == 0
    assert run(capsys, "mark", "reentered-key", "--due")[0] == 0
    assert (
        run(capsys, "review", "--root-cause", "fibre cut by road works", "--prevention", "second route")[0]
        == 0
    )
    code, out, _ = run(capsys, "report")
    path = out.strip().split(": ", 1)[1]
    with open(path, encoding="utf-8") as fh:
        html = fh.read()
    assert "信息系统故障排除报告" in html and "fibre cut by road works" in html
    assert "药房" in html and "当日补录重要数据" in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "the report must be self-contained"
    code, out, _ = run(capsys, "report", "--lang", "en", "--format", "json", "--output", "-")
    data = json.loads(out)
    actions = [e["action"] for e in data["timeline"]]
    assert actions[:2] == ["incident.open", "incident.mark"] and "incident.review" in actions
    assert {d["key"]: d["state"] for d in data["deadlines"]}["reentry-key"] == "done"
    assert {r["key"]: r["key_done"] is not None for r in data["reentry"]}["pharmacy"]
    assert all(e["actor"] for e in data["timeline"])
    assert data["incident"]["opened_by"] == "oncall-wang"
    code, out, _ = run(capsys, "list")
    assert "resolved" in out and "核心交换机主光纤中断" in out


def test_agency_incident_says_there_are_no_paper_thresholds(var, capsys):
    code, out, _ = run(capsys, "open", "--org", "agency", "--class", "1", "--summary", "机房断电")
    assert code == 0 and "卫生行政部门" in out and "P4.5.2" in out and "P4.4" in out
    code, out, err = run(capsys, "mark", "paper", "pharmacy")
    assert code == 2 and "unknown department" in err and "every-department" in err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["open", "--summary", "x"], "give --class"),
        (["open", "--summary", "  ", "--class", "1"], "--summary is empty"),
        (["open", "--summary", "x", "--symptom", "printer jam"], "known symptoms"),
        (["open", "--summary", "x", "--symptom", "no-network"], "--scope"),
        (["open", "--summary", "x", "--org", "agency", "--class", "other"], "classes 1, 2 and 3 only"),
        (["status", "--id", "../etc/passwd"], "not an incident id"),
        (["log", "x"], "no incident yet"),
        (["run", "failover-uplink", "--device", "core-sw-01"], "no incident is open"),
    ],
)
def test_bad_input_is_a_clear_error_without_traceback(var, capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_errors_inside_an_open_incident(var, capsys):
    assert run(capsys, "open", "--class", "2", "--summary", "ward printer")[0] == 0
    for argv, message in (
        (["open", "--class", "1", "--summary", "x"], "still open"),
        (["mark", "told", "mayor"], "unknown role"),
        (["mark", "told"], "name what to mark"),
        (["mark", "resumed"], "not resolved yet"),
        (["mark", "reentered-key", "pharmacy"], "after recovery"),
        (["classify", "other", "--reason", "x"], None),
        (["run", "failover-uplink"], "needs --device"),
        (["run", "replace-switch", "--failed", "a"], "needs --failed SWITCH --spare SWITCH"),
        (["run", "restart-service", "--host", "srv-his"], "needs --host HOST --service UNIT"),
        (["run", "restore"], "needs --host"),
        (["run", "restore", "--host", "srv-his", "--apply"], "--confirm srv-his"),
        (["run", "restore", "--host", "srv-his", "--apply", "--confirm", "srv-hiz"], "nothing was restored"),
        (["run", "restore", "--host", "srv-his", "-e", "novalue"], "KEY=VALUE"),
        (["review", "--root-cause", " ", "--prevention", "x"], "must say something"),
    ):
        code, _, err = run(capsys, *argv)
        if message is None:
            assert code == 0, err
        else:
            assert code == 2 and message in err, (argv, err)
    assert run(capsys, "resolve")[0] == 0
    code, _, err = run(capsys, "resolve")
    assert code == 2 and "already resolved" in err


def test_status_without_any_incident(var, capsys):
    assert run(capsys, "status") == (0, "当前没有故障。\n", "")
    _, out, _ = run(capsys, "status", "--json")
    assert json.loads(out) == {"incident": None}


def test_drill_fault_registers_under_drill_in_either_order():
    import argparse

    from hisguard.commands import drill_fault

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    drill = sub.add_parser("drill")
    actions = drill.add_subparsers(dest="action")
    actions.add_parser("restore")  # what hisguard.commands.drill (the backup issue) registers
    drill_fault.register(sub)
    assert parser.parse_args(["drill", "fault", "--scenario", "his-db-down"]).scenario == "his-db-down"
    assert parser.parse_args(["drill", "restore"]).action == "restore"
    alone = argparse.ArgumentParser()
    drill_fault.register(alone.add_subparsers(dest="command"))
    assert alone.parse_args(["drill", "fault", "--scenario", "core-uplink-down"]).action == "fault"
