"""hisguard.store and hisguard.results: migrations, round trips, corrupted input, history."""

import json
import sqlite3

import pytest

from hisguard import store as store_module
from hisguard.cli import main
from hisguard.commands.report import ingest
from hisguard.errors import UserError
from hisguard.results import RESULTS_SCHEMA, Result, ResultSet, load_results
from hisguard.store import MIGRATIONS, SCHEMA_VERSION, Store


def result(host, control, status, **extra):
    return Result(host=host, control=control, status=status, observed=f"{control} on {host}", **extra)


def result_set(*results, started="2025-06-01T02:00:00+00:00"):
    return ResultSet(
        results=list(results),
        playbook="playbooks/audit.yml",
        started=started,
        finished="2025-06-01T02:05:00+00:00",
        hosts=sorted({r.host for r in results}),
        stats={r.host: {"ok": 1, "failures": 0, "unreachable": 0} for r in results},
    )


def results_document(results):
    return {
        "schema": RESULTS_SCHEMA,
        "run": {"playbook": "audit.yml", "started": "s", "finished": "f", "hosts": ["ws-01"], "stats": {}},
        "results": results,
        "expired_waivers": [],
    }


# --------------------------------------------------------------------------- schema and migrations


def test_new_store_gets_the_current_schema(tmp_path):
    path = tmp_path / "sub" / "hisguard.db"
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
        tables = {row[0] for row in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schema_version", "runs", "results"} <= tables
    with Store(path) as store:  # reopening applies nothing twice
        assert store.schema_version() == SCHEMA_VERSION


def test_a_new_migration_upgrades_an_old_store_and_keeps_data(tmp_path, monkeypatch):
    path = tmp_path / "hisguard.db"
    with Store(path) as store:
        run_id = store.save_run(result_set(result("ws-01", "P1.3.6", "pass")), "audit", "successful")
    extra = "CREATE TABLE drills (id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs(id), kind TEXT);"
    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, extra])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(MIGRATIONS) + 1)
    with Store(path) as store:
        assert store.schema_version() == len(MIGRATIONS) + 1
        store.db.execute("INSERT INTO drills (run_id, kind) VALUES (?, 'restore')", (run_id,))
        assert [r.control for r in store.results(run_id)] == ["P1.3.6"]


def test_a_failing_migration_is_rolled_back(tmp_path, monkeypatch):
    path = tmp_path / "hisguard.db"
    Store(path).close()
    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, "CREATE TABLE t (x); CREATE TABLE t (x);"])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(MIGRATIONS) + 1)
    with pytest.raises(UserError, match=str(path)):
        Store(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM schema_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 't'").fetchone()[0] == 0
    db.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "hisguard.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 5,))
    db.commit()
    db.close()
    with pytest.raises(UserError) as info:
        Store(path)
    assert str(path) in info.value.message and "newer" in info.value.message


def test_not_a_database_names_the_file(tmp_path):
    path = tmp_path / "hisguard.db"
    path.write_bytes(b"this is not sqlite at all\n" * 100)
    with pytest.raises(UserError) as info:
        Store(path)
    assert str(path) in info.value.message and "not a usable hisguard database" in info.value.message


def test_directory_is_refused(tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        Store(tmp_path)


def test_default_path_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HISGUARD_DB", str(tmp_path / "elsewhere.db"))
    with Store() as store:
        assert store.path == tmp_path / "elsewhere.db"
    monkeypatch.delenv("HISGUARD_DB")
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path / "var"))
    assert store_module.default_db_path() == tmp_path / "var" / "hisguard.db"


# --------------------------------------------------------------------------- runs and results


def test_save_and_read_back(tmp_path):
    waiver = {"control": "P3.8.5", "ticket": "T-1", "expires": "2099-01-01", "reason": "r", "approver": "a"}
    first = result_set(
        result("ws-01", "P1.3.6", "pass", evidence={"file": "/etc/modprobe.d/usb.conf", "lines": [1, 2]}),
        result("ws-01", "P3.8.5", "waived", waiver=waiver, expected={"drills": 4}),
        result("ws-02", "P1.3.6", "fail", remediation="block usb-storage"),
    )
    with Store(tmp_path / "h.db") as store:
        run_id = store.save_run(first, "audit", "successful", mode="audit")
        run = store.get_run(run_id)
        assert run.kind == "audit" and run.mode == "audit" and run.hosts == ["ws-01", "ws-02"]
        assert run.counts == {"pass": 1, "waived": 1, "fail": 1}
        assert run.compliance == 50.0
        assert store.results(run_id) == first.results
        assert store.get_run().id == run_id  # latest


def test_several_results_of_one_control_count_once_worst_first(tmp_path):
    rs = result_set(
        result("ws-01", "P1.3.6", "pass"),
        result("ws-01", "P1.3.6", "fail"),
        result("ws-02", "P1.3.6", "pass"),
    )
    with Store(tmp_path / "h.db") as store:
        run = store.get_run(store.save_run(rs, "audit", "successful"))
    assert run.counts == {"fail": 1, "pass": 1}
    assert rs.counts() == run.counts


def test_runs_history_and_trend(tmp_path):
    with Store(tmp_path / "h.db") as store:
        ids = []
        for passes in (1, 2, 3):
            rs = result_set(
                *[result(f"ws-{i}", "P1.3.6", "pass" if i < passes else "fail") for i in range(4)]
            )
            ids.append(store.save_run(rs, "audit", "successful"))
        store.save_run(result_set(), "facts", "successful")  # no results: not in the trend
        assert [r.id for r in store.runs()] == [ids[2] + 1, *reversed(ids)]
        assert [r.id for r in store.runs(limit=2)] == [ids[2] + 1, ids[2]]
        assert [r.id for r in store.runs(kind="audit")] == list(reversed(ids))
        trend = store.trend()
        assert [p.run_id for p in trend] == ids
        assert [p.compliance for p in trend] == [25.0, 50.0, 75.0]
        assert [p.run_id for p in store.trend(limit=2)] == ids[1:]
        assert [p.run_id for p in store.trend(until=ids[1])] == ids[:2]


def test_missing_run_is_a_clear_error(tmp_path):
    with Store(tmp_path / "h.db") as store:
        with pytest.raises(UserError, match="no runs yet"):
            store.get_run()
        with pytest.raises(UserError, match="has no run 42"):
            store.get_run(42)


def test_damaged_rows_are_a_clear_error(tmp_path):
    with Store(tmp_path / "h.db") as store:
        run_id = store.save_run(result_set(result("ws-01", "P1.3.6", "pass")), "audit", "successful")
        store.db.execute("UPDATE results SET evidence = '{broken'")
        with pytest.raises(UserError, match="is damaged"):
            store.results(run_id)


# --------------------------------------------------------------------------- results files


def test_load_results_round_trip(tmp_path):
    rs = result_set(result("ws-01", "P1.3.6", "fail", evidence={"k": "v"}))
    path = tmp_path / "r.json"
    path.write_text(json.dumps(rs.to_dict()), encoding="utf-8")
    loaded = load_results(path)
    assert loaded.results == rs.results and loaded.path == path and loaded.hosts == ["ws-01"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema": "hisguard.results/1", "run": {', "is not valid JSON"),
        ("\x00\x01garbage", "is not valid JSON"),
        ('{"schema": "other/2", "run": {}, "results": []}', "schema is 'other/2'"),
        (
            json.dumps(results_document([{"host": "ws-01", "control": "P1.3.6", "status": "ok"}])),
            "unknown status",
        ),
        (json.dumps(results_document([{"host": "ws-01", "status": "pass"}])), "results[0]: `control`"),
        (json.dumps(results_document(["x"])), "results[0]: expected an object"),
        ('["a list"]', "expected a JSON object"),
    ],
)
def test_corrupted_results_file_names_the_file(tmp_path, content, message):
    path = tmp_path / "hisguard-results.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as info:
        load_results(path)
    assert str(path) in info.value.message
    assert message in info.value.message


def test_missing_results_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_results(tmp_path / "nope.json")


# --------------------------------------------------------------------------- ingest and history (CLI)


def test_ingest_and_history(tmp_path, capsys):
    path = tmp_path / "r.json"
    rs = result_set(result("ws-01", "P1.3.6", "pass"), result("ws-02", "P1.3.6", "fail"))
    path.write_text(json.dumps(rs.to_dict()), encoding="utf-8")
    db = tmp_path / "h.db"
    assert ingest(path, "audit", "successful", db_path=db) == 1
    assert main(["ingest", str(path), "--db", str(db), "--kind", "enforce", "--mode", "enforce"]) == 0
    assert "stored run 2" in capsys.readouterr().out
    assert main(["history", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["RUN", "KIND", "STARTED"]
    assert lines[1].split()[:2] == ["2", "enforce/enforce"]
    assert "50.0%" in lines[2]


def test_reading_commands_do_not_create_a_store(tmp_path, capsys):
    db = tmp_path / "none.db"
    assert main(["history", "--db", str(db)]) == 0
    assert "no runs stored yet" in capsys.readouterr().out
    assert main(["report", "--db", str(db)]) == 2
    assert f"store {db} does not exist" in capsys.readouterr().err
    assert not db.exists()


def test_cli_errors_have_no_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.db"
    bad.write_text("not a database, just text " * 50)
    assert main(["history", "--db", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hisguard: error: store ") and str(bad) in err and "Traceback" not in err
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert main(["ingest", str(broken), "--db", str(tmp_path / "h.db")]) == 2
    assert str(broken) in capsys.readouterr().err
