"""run_playbook: a private data dir per run under var/runs/, artifacts kept, events streamed."""

import io

import pytest
import yaml

from hisguard import paths
from hisguard.errors import UserError
from hisguard.progress import Progress, summary
from hisguard.runner import run_playbook

pytestmark = pytest.mark.lab


def test_run_keeps_artifacts_and_streams_events():
    events: list[dict] = []
    out = io.StringIO()
    progress = Progress(out)

    def on_event(event: dict) -> None:
        events.append(event)
        progress.event(event)

    result = run_playbook("lab_facts.yml", limit="ws-01,core-sw-01", on_event=on_event)
    assert result.ok, result.status
    assert result.private_dir.parent == paths.var_dir() / "runs"
    assert (result.artifacts_dir / "job_events").is_dir()
    assert (result.artifacts_dir / "stdout").read_text()
    kinds = {e.get("event") for e in events}
    assert {"playbook_on_start", "playbook_on_task_start", "runner_on_ok", "playbook_on_stats"} <= kinds
    assert "Gather the minimal and network facts" in out.getvalue()
    table = summary(result)
    assert "ws-01" in table and "core-sw-01" in table and result.ident in table


def test_unknown_playbook_is_a_clear_error():
    with pytest.raises(UserError, match="does not exist"):
        run_playbook("no_such_playbook.yml")


def test_no_secret_in_run_artifacts():
    result = run_playbook("lab_facts.yml", limit="network_devices")
    secrets_file = paths.var_dir() / "lab" / "secrets" / "switch_credentials.yml"
    creds = yaml.safe_load(secrets_file.read_text())
    for path in result.private_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert creds["password"] not in text and creds["enable_secret"] not in text, path
