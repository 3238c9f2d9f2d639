"""A restore drill on the lab's HIS server (srv-his), when its backups are set up (playbooks/backup.yml
with a backup_password, see docs/backup.md); skipped otherwise. The drill runs through ansible-runner
like `hisguard drill restore --host srv-his`, into a private store."""

import json
import subprocess

import pytest

from hisguard import drill
from hisguard.report.drill import render_drill
from hisguard.store import Store

pytestmark = pytest.mark.lab

CONTAINER = "hisguard-srv-his"


def on_his(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", "exec", CONTAINER, "bash", "-c", command], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def lab_backups():
    if on_his("test -f /etc/hisguard/backup/config.json").returncode != 0:
        pytest.skip(
            "the lab's srv-his has no backups: ansible-playbook playbooks/backup.yml first (docs/backup.md)"
        )


def test_drill_on_the_lab_his_database(lab_backups, tmp_path):
    outcome = drill.run_restore_drill(host="srv-his", db_path=tmp_path / "drills.db", lang="zh")
    host = outcome.record["hosts"][0]
    assert outcome.status == "pass", host.get("problems")
    assert host["rpo"]["seconds"] > 0 and host["rpo"]["met"]
    assert host["rto"]["seconds"] > 0 and host["rto"]["met"]
    counts = host["databases"][0]["row_counts"]
    assert counts["patients"] >= 2000 and counts["registrations"] >= 3000
    assert host["manifest"]["ok"]
    assert outcome.evidence["html"].exists()
    assert json.loads(outcome.evidence["json"].read_text())["drill"]["ident"] == outcome.record["ident"]
    # Nothing left behind on srv-his.
    assert on_his("ls -A /var/tmp/hisguard-drill").stdout.strip() == ""
    databases = on_his("runuser -u postgres -- psql -Atc 'SELECT datname FROM pg_database'").stdout
    assert "hisguard_drill" not in databases
    with Store(tmp_path / "drills.db") as store:
        record, html = render_drill(store, None, "html", "en")
    assert record["ident"] == outcome.record["ident"] and "RTO" in html
