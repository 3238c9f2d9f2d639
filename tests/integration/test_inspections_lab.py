"""Machine-room inspections and the weekly log review on the lab, through the CLI, into a private store.

The lab's UPS is NUT's dummy-ups `lab-ups` on srv-backup: the test puts it on battery by editing
/etc/nut/lab-ups.dev (dummy-ups re-reads it) and always restores the file. The log review must list a real
failed SSH login made from the controller."""

import secrets
import subprocess
import time
from pathlib import Path

import pytest

from hisguard import paths
from hisguard.cli import main
from hisguard.store import Store

pytestmark = pytest.mark.lab

UPS_HOST = "hisguard-srv-backup"
UPS_FILE = "/etc/nut/lab-ups.dev"


def on_ups_host(command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", "exec", "-i", UPS_HOST, "sh", "-c", command],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def wait_for_ups_status(expected: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if on_ups_host("upsc lab-ups@localhost ups.status 2>/dev/null").stdout.strip() == expected:
            return
        time.sleep(1)
    raise AssertionError(f"upsc never showed ups.status {expected!r} within {timeout} s")


@pytest.fixture
def ups_on_battery():
    """Yields a function that puts lab-ups on battery at 64 %; the original file is restored afterwards."""
    original = on_ups_host(f"cat {UPS_FILE}")
    assert original.returncode == 0, original.stderr
    try:

        def go_on_battery() -> None:
            edited = on_ups_host(
                "sed -i -e 's/^ups.status:.*/ups.status: OB DISCHRG/'"
                f" -e 's/^battery.charge:.*/battery.charge: 64/' {UPS_FILE}"
            )
            assert edited.returncode == 0, edited.stderr
            wait_for_ups_status("OB DISCHRG")

        yield go_on_battery
    finally:
        on_ups_host(f"cat > {UPS_FILE}", stdin=original.stdout)
        wait_for_ups_status("OL")


def ups_item(entry: dict) -> dict:
    return next(i for i in entry["items"] if i["item"] == "ups" and i["subject"] == "lab-ups")


def test_ups_on_battery_shows_in_the_daily_inspection(ups_on_battery, tmp_path, capsys):
    db = str(tmp_path / "hisguard.db")
    # Other items on srv-backup (its backups, services) are not this test's business: 0 or 1.
    assert main(["inspect", "daily", "--limit", "srv-backup", "--inspector", "张三", "--db", db]) in (0, 1)
    ups_on_battery()
    assert main(["inspect", "daily", "--limit", "srv-backup", "--inspector", "张三", "--db", db]) == 1
    assert "on battery" in capsys.readouterr().out

    with Store(db) as store:
        first, second = store.inspections(kind="daily")
    assert ups_item(first)["status"] == "ok"
    on_battery = ups_item(second)
    assert second["status"] == "alarm" and on_battery["status"] == "alarm"
    assert "on battery (OB)" in on_battery["summary"] and "64%" in on_battery["summary"]
    assert on_battery["detail"]["charge"] == 64 and on_battery["control"] == "P2.7.3"

    html = tmp_path / "log.html"
    assert main(["inspect", "log", "--format", "html", "--db", db, "-o", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    assert "机房日志" in page and page.count('data-item="ups"') == 2 and 'data-status="alarm"' in page


def test_weekly_log_review_lists_a_failed_ssh_login(tmp_path, capsys):
    user = f"nosuch{secrets.token_hex(3)}"
    known_hosts = paths.var_dir() / "lab" / "ssh" / "known_hosts"
    failed = subprocess.run(
        [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=5",
            f"{user}@10.77.10.10",
            "true",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 255 and "Permission denied" in failed.stderr
    db = str(tmp_path / "hisguard.db")
    since = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600))
    assert (
        main(
            ["logreview", "weekly", "--since", since, "--limit", "srv-his", "--db", db, "--reviewer", "李四"]
        )
        == 0
    )

    with Store(db) as store:
        review = store.log_review()
    (host,) = review["hosts"]
    assert host["host"] == "srv-his" and host["collected"]
    failures = host["categories"]["auth_failures"]["lines"]
    assert any(user in line["text"] for line in failures), failures
    assert user in (Path(review["report_dir"]) / "report.zh.html").read_text(encoding="utf-8")

    assert (
        main(["logreview", "signoff", "--by", "李四", "--actions", "来源为巡检测试，无需处理", "--db", db])
        == 0
    )
    assert main(["logreview", "signoff", "--by", "李四", "--db", db]) == 2  # signed once
    assert "was signed by 李四" in capsys.readouterr().err
    with Store(db) as store:
        assert store.log_review()["signed_by"] == "李四"
