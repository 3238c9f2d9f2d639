"""`hisguard incident run diagnose` and the service playbook against the shared lab, read-only:
the diagnosis changes nothing, reaches every host and switch asked for, is recorded in the timeline,
and the service restart in --check mode only reports. (Fault injection on the shared lab is the job
of `hisguard drill fault`, run by hand; see docs/oncall.md.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hisguard import incident_timeline as tl
from hisguard import paths
from hisguard.recovery import restart_service
from hisguard.runner import run_playbook
from hisguard.store import Store

pytestmark = pytest.mark.lab
CLI = [sys.executable, "-m", "hisguard.commands.incident", "incident"]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("HISGUARD_DB", str(tmp_path / "var" / "hisguard.db"))
    return dict(os.environ)


def test_diagnose_in_an_incident_is_recorded_with_its_document(env):
    run = lambda *a: subprocess.run([*CLI, *a], capture_output=True, text=True, env=env, timeout=600)  # noqa: E731
    assert run("open", "--class", "1", "--summary", "lab check").returncode == 0
    proc = run("run", "diagnose", "--limit", "srv-his,ws-01,core-sw-01,spare-sw-01", "--lang", "en")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Store() as store:
        loaded = tl.load(store, tl.current_id())
    step = [e for e in loaded.entries if e.action == "incident.run"][-1].detail
    assert step["step"] == "diagnose" and step["ok"] and step["run"]
    with open(step["document"], encoding="utf-8") as fh:
        document = json.load(fh)
    assert set(document["hosts"]) == {"srv-his", "ws-01", "core-sw-01", "spare-sw-01"}
    his = document["hosts"]["srv-his"]
    assert his["reachable"] and his["db"]["checked"]
    assert document["hosts"]["core-sw-01"]["uplinks"]["primary"]["port"] == "TenGigabitEthernet1/1/1"
    assert "Next steps" in proc.stdout
    status = json.loads(run("status", "--json").stdout)
    assert status["next_steps"], "status says what to do after the diagnosis"
    creds = yaml.safe_load((paths.ROOT / "var/lab/secrets/switch_credentials.yml").read_text())
    for path in Path(env["HISGUARD_VAR"]).rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert creds["password"] not in text and creds["enable_secret"] not in text, path


def test_the_diagnosis_playbook_changes_nothing(tmp_path, env):
    result = run_playbook(
        "incident_diagnose.yml",
        extravars={"incident_diagnose_output": str(tmp_path / "d.json")},
        limit="srv-his,ws-02,access-sw-01,localhost",
        check=True,
    )
    assert result.ok, result.status
    changed = {h: n for h, n in result.stats.get("changed", {}).items() if n and h != "localhost"}
    assert changed == {}, "the diagnosis must change nothing on any host or switch"
    assert (tmp_path / "d.json").exists()  # the controller-side document is still written


def test_restart_service_in_check_mode_only_reports(env):
    result = restart_service("srv-his", "postgresql", apply=False)
    assert result.ok and result.outcome == "planned", result.message
    bad = restart_service("srv-his", "postgresql; reboot", apply=False)
    assert not bad.ok and "systemd unit name" in bad.message
