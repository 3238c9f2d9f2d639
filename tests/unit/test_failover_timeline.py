"""hisguard.timeline: the open incident's append-only timeline."""

import json
import stat

import pytest

from hisguard import timeline
from hisguard.errors import UserError


@pytest.fixture
def var(tmp_path, monkeypatch):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path))
    monkeypatch.setenv("USER", "oncall")
    monkeypatch.delenv("SUDO_USER", raising=False)
    return tmp_path


def open_incident(var, ident="INC-20250304T021507Z-c3d4"):
    (var / "incidents").mkdir(exist_ok=True)
    (var / "incidents" / "CURRENT").write_text(ident + "\n")
    return var / "incidents" / ident / "timeline.jsonl"


def test_no_open_incident_is_a_no_op(var):
    timeline.record("failover.uplink.apply", {"device": "core-sw-01"})
    assert not (var / "incidents").exists()
    (var / "incidents").mkdir()
    (var / "incidents" / "CURRENT").write_text("\n")
    timeline.record("failover.uplink.apply", {"device": "core-sw-01"})
    assert list((var / "incidents").iterdir()) == [var / "incidents" / "CURRENT"]


def test_entries_are_appended_as_json_lines(var):
    path = open_incident(var)
    timeline.record("failover.uplink.start", {"device": "core-sw-01", "apply": True})
    timeline.record("failover.uplink.apply", {"device": "core-sw-01", "commands": ["shutdown"]}, actor="wang")
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "actor", "action", "detail"}
    assert first["actor"] == "oncall" and second["actor"] == "wang"
    assert first["time"].endswith(("+00:00", "Z")) and first["time"] <= second["time"]
    assert second == {
        **second,
        "action": "failover.uplink.apply",
        "detail": {"device": "core-sw-01", "commands": ["shutdown"]},
    }
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, "not world-readable"
    assert timeline.read() == [first, second]


def test_sudo_user_is_the_default_actor(var, monkeypatch):
    open_incident(var)
    monkeypatch.setenv("SUDO_USER", "li")
    timeline.record("x", {})
    assert timeline.read()[0]["actor"] == "li"


@pytest.mark.parametrize("bad", ["../etc", "a/b", "-x", "a" * 200])
def test_a_bad_current_file_is_a_clear_error(var, bad):
    open_incident(var, bad)
    with pytest.raises(UserError, match="is not an incident id"):
        timeline.record("x", {})


def test_a_line_cut_short_by_a_crash_does_not_swallow_the_next(var):
    path = open_incident(var)
    path.parent.mkdir(parents=True)
    path.write_text(
        '{"time": "2025-03-04T02:15:07+00:00", "action": "incident.open", "detail": {}}\n{"time": "20'
    )
    timeline.record("failover.uplink.start", {"device": "core-sw-01"})
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["action"] == "failover.uplink.start"
    assert [e["action"] for e in timeline.read()] == ["incident.open", "failover.uplink.start"]


def test_non_json_detail_values_are_stringified(var):
    open_incident(var)
    timeline.record("x", {"path": var})
    assert timeline.read()[0]["detail"] == {"path": str(var)}
