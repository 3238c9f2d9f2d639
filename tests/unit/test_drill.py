"""hisguard.drill, the drill tables of the store and the drill evidence report (no Ansible run here).

drill_results_pass.json is the results file of a real drill (molecule scenario backup, restic 0.14).
"""

import argparse
import copy
import json
from pathlib import Path

import pytest

from hisguard import drill, timeline
from hisguard.commands import drill as drill_command
from hisguard.errors import UserError
from hisguard.report.drill import fmt_bytes, fmt_seconds, render_drill, render_drill_record
from hisguard.runner import RunResult
from hisguard.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "restic"
RESULTS = FIXTURES / "drill_results_pass.json"


def fake_run(tmp_path: Path, stats: dict | None = None) -> RunResult:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir(exist_ok=True)
    return RunResult(
        "20260101T000000Z-abcdef", "restore_drill.yml", "successful", 0, tmp_path, artifacts, stats or {}
    )


def passing_record(tmp_path: Path) -> dict:
    records, problems = drill.host_records_from_results(RESULTS)
    return drill.build_record(
        "20260101t000000z-abcdef",
        fake_run(tmp_path),
        records,
        problems,
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:02:00Z",
        "张工",
        "latest",
        "local",
    )


def failing_host(record: dict, message: str = "data corrupted: restic restore found damaged data") -> dict:
    host = copy.deepcopy(record["hosts"][0])
    host.update(
        host="srv-his-2",
        status="fail",
        failure={"step": "restore", "kind": "data_corrupted", "message": message},
        problems=[message],
    )
    host["rto"] = {**host["rto"], "seconds": None, "met": False}
    return host


# ------------------------------------------------------------------ inputs and records


@pytest.mark.parametrize(
    ("host", "snapshot", "source", "words"),
    [
        (None, "last", "local", "--snapshot"),
        (None, "latest", "cloud", "--source"),
        ("srv his; rm -rf /", "latest", "local", "--host"),
    ],
)
def test_bad_inputs_name_the_option(host, snapshot, source, words):
    with pytest.raises(UserError) as err:
        drill.check_inputs(host, snapshot, source)
    assert words in err.value.message


def test_good_inputs():
    drill.check_inputs("srv-his", "latest", "offsite")
    drill.check_inputs(None, "48330aa8", "local")


def test_drill_ident_names_a_database():
    ident = drill.new_drill_ident()
    assert ident == ident.lower() and len(ident) < 40


def test_records_from_a_real_drill(tmp_path):
    record = passing_record(tmp_path)
    assert record["schema"] == "hisguard.drill/1"
    assert record["status"] == "pass"
    host = record["hosts"][0]
    assert host["host"] == "backup-his"
    assert host["rpo"]["met"] and host["rto"]["met"]
    assert host["cleanup"]["scratch_removed"] and host["cleanup"]["databases_dropped"]
    assert host["databases"][0]["row_counts"]["patients"] == 2000
    assert set(record["sign_off"]) == {"drill_lead", "reviewer", "approver"}


def test_status_is_the_worst_host():
    assert drill.drill_status([{"status": "pass"}, {"status": "fail"}]) == "fail"
    assert drill.drill_status([{"status": "pass"}, {"status": "error"}]) == "error"
    assert drill.drill_status([{"status": "pass"}]) == "pass"
    assert drill.drill_status([]) == "error"


def test_unreachable_hosts_get_an_error_record(tmp_path):
    run = fake_run(tmp_path, {"dark": {"srv-his": 1}, "ok": {"srv-his": 1}})
    records = drill.unreachable_records(run, set(), "x")
    assert records[0]["status"] == "error" and "unreachable" in records[0]["problems"][0]
    assert drill.unreachable_records(run, {"srv-his"}, "x") == []


def test_no_host_is_an_error_not_a_pass(tmp_path):
    record = drill.build_record(
        "x", fake_run(tmp_path), [], ["no host matched"], "a", "b", None, "latest", "local"
    )
    assert record["status"] == "error"


# ------------------------------------------------------------------ store


def test_store_keeps_drills_and_their_figures(tmp_path):
    record = passing_record(tmp_path)
    failing = copy.deepcopy(record)
    failing.update(ident="20260102t000000z-123456", status="fail")
    failing["hosts"].append(failing_host(record))
    with Store(tmp_path / "h.db") as store:
        first = store.save_drill(record)
        second = store.save_drill(failing)
        latest = store.get_drill()
        assert latest["id"] == second and latest["ident"] == failing["ident"]
        assert store.get_drill(first)["status"] == "pass"
        assert store.get_drill(record["ident"])["id"] == first
        listed = store.drills()
        assert [d["id"] for d in listed] == [second, first]
        hosts = {h["host"]: h for h in listed[0]["hosts"]}
        assert hosts["srv-his-2"]["failure"].startswith("data corrupted")
        assert hosts["backup-his"]["rto_seconds"] == pytest.approx(record["hosts"][0]["rto"]["seconds"])
        with pytest.raises(UserError):
            store.save_drill(record)  # the drill id is unique
        with pytest.raises(UserError) as err:
            store.get_drill(99)
        assert "hisguard drill history" in err.value.message


def test_empty_store_says_how_to_get_a_drill(tmp_path):
    with Store(tmp_path / "h.db") as store, pytest.raises(UserError) as err:
        store.get_drill()
    assert "hisguard drill restore" in err.value.message


# ------------------------------------------------------------------ report


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh", ["数据恢复演练报告", "演练负责人", "达标"]),
        ("en", ["Restore drill report", "Drill lead", "met"]),
    ],
)
def test_html_report(tmp_path, lang, words):
    record = passing_record(tmp_path)
    record["hosts"].append(failing_host(record))
    record["status"] = "fail"
    html = render_drill_record(record, [], "html", lang)
    for word in words:
        assert word in html
    assert 'id="host-backup-his"' in html and 'id="host-srv-his-2"' in html
    assert "data corrupted" in html
    assert html.count('data-sign="') == 3
    assert "<script src" not in html and "http://" not in html.replace("http://www.w3.org", "")


def test_json_report(tmp_path):
    record = passing_record(tmp_path)
    data = json.loads(render_drill_record(record, [{"id": 1, "ident": "a", "hosts": []}], "json", "en"))
    assert data["schema"] == "hisguard.drill-report/1"
    assert data["drill"]["hosts"][0]["rpo"]["seconds"] > 0
    assert data["history"][0]["ident"] == "a"


def test_report_of_the_stored_drill(tmp_path):
    with Store(tmp_path / "h.db") as store:
        store.save_drill(passing_record(tmp_path))
        record, text = render_drill(store, None, "html", "zh")
    assert record["ident"] in text and "历次演练" in text


def test_unknown_format_and_language():
    with pytest.raises(ValueError):
        render_drill_record({"ident": "x", "status": "pass"}, [], "pdf", "zh")
    with pytest.raises(ValueError):
        render_drill_record({"ident": "x", "status": "pass"}, [], "html", "fr")


def test_formatting():
    assert fmt_seconds(None) == "–"
    assert fmt_seconds(14.136) == "14.1 s"
    assert fmt_seconds(600) == "10.0 min"
    assert fmt_seconds(93600) == "26.0 h"
    assert fmt_bytes(1474419) == "1.4 MiB"


def test_evidence_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path / "var"))
    record = passing_record(tmp_path)
    paths = drill.write_evidence(record, "zh")
    assert json.loads(paths["json"].read_text())["drill"]["ident"] == record["ident"]
    assert "数据恢复演练报告" in paths["html"].read_text()
    assert paths["json"].parent == tmp_path / "var" / "drills" / record["ident"]


# ------------------------------------------------------------------ CLI (hisguard drill report/history)


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hisguard")
    drill_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_report_and_history(tmp_path, capsys):
    db = tmp_path / "h.db"
    with Store(db) as store:
        number = store.save_drill(passing_record(tmp_path))
    out = tmp_path / "drill.json"
    assert (
        cli(
            [
                "drill",
                "report",
                str(number),
                "--format",
                "json",
                "--lang",
                "en",
                "-o",
                str(out),
                "--db",
                str(db),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["drill"]["id"] == number
    assert cli(["drill", "history", "--db", str(db)]) == 0
    assert "backup-his" in capsys.readouterr().out


def test_cli_report_without_a_store_is_a_user_error(tmp_path):
    with pytest.raises(UserError) as err:
        cli(["drill", "report", "--db", str(tmp_path / "none.db")])
    assert "does not exist" in err.value.message


def test_cli_report_rejects_zero(tmp_path):
    with pytest.raises(UserError):
        cli(["drill", "report", "0", "--db", str(tmp_path / "x.db")])


# ------------------------------------------------------------------ restore records into the timeline


def test_recovery_steps_go_to_the_open_incident(tmp_path, monkeypatch):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path / "var"))
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    steps = [
        {
            "time": "2026-01-01T00:00:01Z",
            "host": "srv-his",
            "actor": "wang",
            "action": "restore.plan",
            "detail": {"files": 3},
        },
        {
            "time": "2026-01-01T00:00:05Z",
            "host": "srv-his",
            "actor": "wang",
            "action": "restore.done",
            "detail": {"applied": True},
        },
    ]
    (artifacts / "hisguard-recovery-srv-his-20260101T000000Z.jsonl").write_text(
        "\n".join(json.dumps(s) for s in steps) + "\n"
    )
    assert [s["action"] for s in drill.recovery_steps(artifacts)] == ["restore.plan", "restore.done"]
    assert drill.record_recovery(artifacts) == 2  # no incident open: nothing written, no error
    assert timeline.read() == []
    incidents = tmp_path / "var" / "incidents"
    incidents.mkdir(parents=True)
    (incidents / "CURRENT").write_text("INC-20260101T000000Z-abcd\n")
    assert drill.record_recovery(artifacts, actor="li") == 2
    entries = timeline.read()
    assert [e["action"] for e in entries] == ["restore.plan", "restore.done"]
    assert entries[0]["actor"] == "li" and entries[0]["detail"]["host"] == "srv-his"


def test_damaged_recovery_record(tmp_path):
    (tmp_path / "hisguard-recovery-x.jsonl").write_text("{not json\n")
    with pytest.raises(UserError) as err:
        drill.recovery_steps(tmp_path)
    assert "damaged" in err.value.message
