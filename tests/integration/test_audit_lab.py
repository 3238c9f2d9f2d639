"""Issue 3 end to end on the lab: `hisguard audit` stores results and writes a report that lists every
article, with evidence for each failure; a waiver waives until its expiry and not after."""

import datetime
import json
import subprocess
import sys

import pytest
import yaml

from hisguard.catalog import load_catalog

pytestmark = pytest.mark.lab
HISGUARD = [sys.executable, "-m", "hisguard.cli"]


def hisguard(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*HISGUARD, *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    import os

    path = tmp_path_factory.mktemp("store") / "hisguard.db"
    return {**os.environ, "HISGUARD_DB": str(path)}


def audit(env: dict, *extra: str) -> dict:
    proc = hisguard("audit", "--limit", "ws-01,ws-02", "--tags", "P1.3.6", *extra, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report_path = proc.stdout.strip().splitlines()[-1].removeprefix("report: ")
    out = hisguard("report", "--format", "json", "--output", "-", env=env)
    assert out.returncode == 0, out.stderr
    return {"html": open(report_path, encoding="utf-8").read(), "json": json.loads(out.stdout)}


def statuses(report: dict) -> dict[tuple[str, str], str]:
    # each control's status combined over every role that reported it (the worst wins)
    return {(h["host"], c["control"]): c["status"] for h in report["json"]["hosts"] for c in h["controls"]}


def test_audit_report_lists_every_article_and_evidence_for_failures(db):
    report = audit(db)
    assert statuses(report)[("ws-02", "P1.3.6")] == "fail"
    html = report["html"]
    for control_id in load_catalog().controls:
        assert control_id in html, f"{control_id} missing from the report"
    failed = next(
        r for r in report["json"]["results"] if r["host"] == "ws-02" and r["role"].endswith("removable_media")
    )
    assert failed["observed"] and failed["remediation"], "a failure carries its evidence and remediation"
    assert "usb-storage" in json.dumps(failed["observed"], ensure_ascii=False)


@pytest.mark.parametrize(("days", "expected"), [(30, "waived"), (-1, "fail")])
def test_waiver_waives_until_its_expiry(db, tmp_path, days, expected):
    waivers = tmp_path / "waivers.yml"
    expires = (datetime.date.today() + datetime.timedelta(days=days)).isoformat()
    waivers.write_text(
        yaml.safe_dump(
            {
                "hisguard_waivers": [
                    {
                        "control": "P1.3.6",
                        "hosts": ["ws-02"],
                        "reason": "barcode scanner presents as mass storage",
                        "approver": "信息科 张主任",
                        "ticket": "IT-2026-0042",
                        "expires": expires,
                    }
                ]
            },
            allow_unicode=True,
        )
    )
    report = audit(db, "--waivers", str(waivers))
    assert statuses(report)[("ws-02", "P1.3.6")] == expected
    if expected == "fail":
        assert "IT-2026-0042" in report["html"], "an expired waiver is listed in the report"


def test_waiver_with_unknown_control_is_a_clear_error(db, tmp_path):
    waivers = tmp_path / "bad.yml"
    waivers.write_text(
        yaml.safe_dump(
            [
                {
                    "control": "P9.9.9",
                    "hosts": ["ws-02"],
                    "reason": "x",
                    "approver": "y",
                    "ticket": "z",
                    "expires": "2030-01-01",
                }
            ]
        )
    )
    proc = hisguard("audit", "--waivers", str(waivers), env=db)
    assert proc.returncode == 2
    assert "P9.9.9" in proc.stderr and "Traceback" not in proc.stderr
