"""hisguard.incident_timeline and the store's incident tables: JSONL first (fsync), then the store;
reconciliation; append-only; hisguard.timeline's entries land in the same timeline; killing the CLI
mid-incident loses no entry."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hisguard import incident_timeline as tl
from hisguard.errors import UserError
from hisguard.store import Store

OPEN = {"org": "hospital", "class": "1", "summary": "core uplink down", "symptoms": ["fiber-cut"]}


@pytest.fixture
def var(tmp_path, monkeypatch):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("HISGUARD_DB", str(tmp_path / "var" / "hisguard.db"))
    monkeypatch.setenv("HISGUARD_ACTOR", "wang")
    return tmp_path / "var"


def lines(incident_id):
    return tl.timeline_file(incident_id).read_text(encoding="utf-8").splitlines()


def test_open_writes_the_file_current_and_the_store(var):
    with Store() as store:
        incident_id = tl.open_incident(store, OPEN, drill=False)
        assert tl.current_id() == incident_id
        assert (var / "incidents" / "CURRENT").read_text().strip() == incident_id
        first = json.loads(lines(incident_id)[0])
        assert first["action"] == "incident.open" and first["actor"] == "wang"
        assert first["time"].endswith("+00:00")  # stored in UTC
        assert store.incident_row(incident_id)["class"] == "1"
        assert [r["action"] for r in store.incident_event_rows(incident_id)] == ["incident.open"]
        with pytest.raises(UserError, match="still open"):
            tl.open_incident(store, OPEN, drill=False)


def test_record_appends_to_both_and_load_replays(var):
    with Store() as store:
        incident_id = tl.open_incident(store, OPEN, drill=False)
        tl.record(store, incident_id, "incident.log", {"message": "called the carrier"})
        tl.record(store, incident_id, "incident.resolve", {"summary": "spliced"}, actor="li")
        loaded = tl.load(store, incident_id)
        assert [e.action for e in loaded.entries] == ["incident.open", "incident.log", "incident.resolve"]
        assert loaded.incident.resolved is not None and loaded.incident.resolved_by == "li"
        assert loaded.problems == [] and loaded.copied == 0
        assert len(store.incident_event_rows(incident_id)) == 3


def test_the_failover_engineers_timeline_record_lands_in_the_same_timeline(var):
    from hisguard import timeline

    with Store() as store:
        incident_id = tl.open_incident(store, OPEN, drill=False)
        timeline.record("failover.uplink.start", {"device": "core-sw-01", "apply": True})
        loaded = tl.load(store, incident_id)
        assert loaded.entries[-1].action == "failover.uplink.start"
        assert loaded.copied == 1  # copied into the store by the reconciliation
        assert store.incident_event_rows(incident_id)[-1]["detail"]["device"] == "core-sw-01"
        tl.close_current(incident_id)
        timeline.record("failover.uplink.start", {"device": "x"})  # no incident open: nothing
        assert len(lines(incident_id)) == 2


def test_a_line_only_in_the_file_is_copied_to_the_store(var):
    with Store() as store:
        incident_id = tl.open_incident(store, OPEN, drill=False)
        tl.append_line(
            tl.timeline_file(incident_id),
            {
                "time": "2025-06-01T01:00:00+00:00",
                "actor": "x",
                "action": "incident.log",
                "detail": {"message": "m"},
            },
        )
        assert len(store.incident_event_rows(incident_id)) == 1
        loaded = tl.load(store, incident_id)
        assert loaded.copied == 1 and len(store.incident_event_rows(incident_id)) == 2


def test_an_edited_or_truncated_file_is_reported_and_the_stored_copy_used(var):
    with Store() as store:
        incident_id = tl.open_incident(store, OPEN, drill=False)
        tl.record(store, incident_id, "incident.log", {"message": "original"})
        path = tl.timeline_file(incident_id)
        text = path.read_text().replace("original", "rewritten")
        path.write_text(text)
        loaded = tl.load(store, incident_id)
        assert any("changed after it was stored" in p for p in loaded.problems)
        assert loaded.entries[1].detail["message"] == "original"
        path.write_text(text.splitlines()[0] + "\n")  # the last line lost
        loaded = tl.load(store, incident_id)
        assert any("lacks 1 entry" in p for p in loaded.problems)
        assert len(loaded.entries) == 2


def test_a_line_cut_short_by_a_crash_is_skipped_and_does_not_swallow_the_next(var):
    with Store() as store:
        incident_id = tl.open_incident(store, OPEN, drill=False)
        with open(tl.timeline_file(incident_id), "a") as fh:
            fh.write('{"time": "2025-06-01T01:00:00+00:00", "action": "incident.lo')  # no newline
        tl.record(store, incident_id, "incident.log", {"message": "after the crash"})
        loaded = tl.load(store, incident_id)
        assert loaded.entries[-1].detail["message"] == "after the crash"
        assert any("line 2" in p and "skipped" in p for p in loaded.problems)


def test_the_stored_timeline_is_append_only(var):
    with Store() as store:
        incident_id = tl.open_incident(store, OPEN, drill=False)
        for sql in (
            "UPDATE incident_events SET action = 'x'",
            "DELETE FROM incident_events",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                store.db.execute(sql)
        assert len(store.incident_event_rows(incident_id)) == 1


def test_bad_ids_and_unknown_incidents_are_clear_errors(var):
    with Store() as store:
        with pytest.raises(UserError, match="not an incident id"):
            tl.pick(store, "../../etc")
        with pytest.raises(UserError, match="no incident yet"):
            tl.pick(store, None)
        with pytest.raises(UserError, match="no incident INC-20250101T000000Z-abcd"):
            tl.pick(store, "INC-20250101T000000Z-abcd")


def test_notification_claims_send_each_reminder_once(var):
    with Store() as store:
        incident_id = tl.open_incident(store, OPEN, drill=False)
        assert store.claim_notification(incident_id, "paper-30min", "webhook")
        assert not store.claim_notification(incident_id, "paper-30min", "webhook")  # being sent
        store.finish_notification(incident_id, "paper-30min", "webhook", False, "refused")
        assert store.claim_notification(incident_id, "paper-30min", "webhook")  # a failure is retried
        store.finish_notification(incident_id, "paper-30min", "webhook", True)
        assert not store.claim_notification(incident_id, "paper-30min", "webhook")
        assert store.claim_notification(incident_id, "paper-30min", "mail")
        row = store.incident_notifications(incident_id)[0]
        assert (row["state"], row["attempts"]) == ("sent", 2)


# ------------------------------------------------------------------------------- killing the CLI
CLI = [sys.executable, "-m", "hisguard.commands.incident"]


def cli(*args, env):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def env(var):
    return dict(os.environ)


def test_cli_killed_between_the_file_and_the_store_loses_no_entry(env):
    assert cli("incident", "open", "--class", "1", "--summary", "HIS down", env=env).returncode == 0
    # The CLI is killed (SIGKILL) right after the JSONL write, before the store write.
    killer = textwrap.dedent(
        """
        import os, signal, sys
        from hisguard.store import Store
        def die(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        Store.add_incident_events = die
        from hisguard.commands.incident import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", killer, "incident", "log", "DB restarted by hand at 03:12"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL
    status = cli("incident", "report", "--format", "json", "--output", "-", env=env)
    assert status.returncode == 0, status.stderr
    texts = [e["text"] for e in json.loads(status.stdout)["timeline"]]
    assert "DB restarted by hand at 03:12" in texts
    with Store() as store:  # and the store has it now
        incident_id = tl.current_id()
        assert any(r["action"] == "incident.log" for r in store.incident_event_rows(incident_id))


def test_cli_killed_during_a_recovery_step_keeps_the_step_start(env, tmp_path):
    assert cli("incident", "open", "--class", "1", "--summary", "core down", env=env).returncode == 0
    # A recovery step that hangs (as a playbook against a dead device can): the CLI is killed in it.
    slow = textwrap.dedent(
        """
        import sys, time
        from hisguard import recovery
        def hang(*a, **k):
            print("HANGING", flush=True)
            time.sleep(60)
        recovery.failover_uplink = hang
        from hisguard.commands.incident import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            slow,
            "incident",
            "run",
            "failover-uplink",
            "--device",
            "core-sw-01",
            "--apply",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if "HANGING" in line or time.monotonic() > deadline:
            break
    proc.kill()
    proc.wait(timeout=10)
    out = cli("incident", "status", "--json", env=env)
    assert out.returncode == 0, out.stderr
    with Store() as store:
        loaded = tl.load(store, tl.current_id())
    steps = [e for e in loaded.entries if e.action == "incident.step"]
    assert steps and steps[-1].detail == {
        "step": "failover-uplink",
        "device": "core-sw-01",
        "back": False,
        "apply": True,
    }
    assert Path(tl.timeline_file(loaded.incident.id)).stat().st_size > 0
