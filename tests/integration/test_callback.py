"""The compliance_result action and the compliance callback, through real ansible-playbook and ansible-runner.

Runs against localhost with the local connection (no lab needed). The catalog is a temporary one
(HISGUARD_CATALOG), so these tests do not depend on the content of controls/catalog.yml.
"""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ANSIBLE_PLAYBOOK = VENV_BIN / "ansible-playbook"

pytestmark = pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason=f"{ANSIBLE_PLAYBOOK} is not installed")

CATALOG = """\
controls:
  - {id: P1.3.6, title: {zh: 禁止使用U盘, en: No USB storage}}
  - {id: P1.3.8, title: {zh: 安装防病毒软件, en: Antivirus}}
  - {id: P1.3.9, title: {zh: 与互联网物理隔离, en: No Internet}}
  - {id: P3.8.5, title: {zh: 定期模拟恢复, en: Restore drills}}
"""

RESULT_FIELDS = (
    "host control status observed expected remediation evidence waiver expired_waiver task role time"
)
RESULT_FIELDS = RESULT_FIELDS.split()
# group_vars of the `radiology` group: one valid waiver (expires today: still valid), one expired. The
# dates are filled in when a test writes them (a suite that runs past midnight would see a stale today).
GROUP_VARS = """\
hisguard_waivers:
  - control: P1.3.8
    groups: [radiology]
    reason: 影像工作站厂商驱动与杀毒软件冲突
    approver: 信息科 王主任
    ticket: OA-2025-0412
    expires: {today}
  - control: P1.3.9
    hosts: [localhost]
    reason: temporary Internet access for a vendor update
    approver: CIO
    ticket: OA-2024-0007
    expires: {yesterday}
"""

PLAYBOOK = """\
- name: Compliance results
  hosts: all
  gather_facts: false
  tasks:
    - name: P1.3.6 | AUDIT | usb-storage is blocked
      hisguard.infosec.compliance_result:
        control: P1.3.6
        passed: true
        observed: install usb-storage /bin/false
        expected: install usb-storage /bin/false
        evidence: {file: /etc/modprobe.d/hisguard-usb.conf}
    - name: P1.3.8 | AUDIT | antivirus installed
      hisguard.infosec.compliance_result:
        control: P1.3.8
        passed: false
        observed: clamav not installed
        expected: clamav installed
        remediation: hisguard harden --tags P1.3.8
    - name: P1.3.9 | AUDIT | no default route to the Internet
      hisguard.infosec.compliance_result:
        control: P1.3.9
        passed: false
        observed: [default via 10.0.0.1]
        expected: no default route
    - name: P3.8.5 | AUDIT | drill log readable
      hisguard.infosec.compliance_result:
        control: P3.8.5
        status: error
        observed: permission denied
    - name: n/a in a loop
      hisguard.infosec.compliance_result:
        control: "{{ item }}"
        status: not_applicable
      loop: [P1.3.6, P3.8.5]
    - name: Unknown control
      hisguard.infosec.compliance_result:
        control: P9.9.9
        passed: true
      ignore_errors: true
"""


@pytest.fixture
def lab(tmp_path):
    """A temporary catalog, inventory (localhost in group radiology, with group_vars) and playbook."""
    (tmp_path / "catalog.yml").write_text(CATALOG, encoding="utf-8")
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "hosts.ini").write_text(
        f"[radiology]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n",
        encoding="utf-8",
    )
    today = datetime.date.today()
    dates = {"today": today.isoformat(), "yesterday": (today - datetime.timedelta(days=1)).isoformat()}
    (inventory / "group_vars" / "radiology.yml").write_text(GROUP_VARS.format(**dates), encoding="utf-8")
    (tmp_path / "results.yml").write_text(PLAYBOOK, encoding="utf-8")
    return tmp_path


def playbook_env(lab, **extra):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HISGUARD_", "AWX_"))}
    env.update(HISGUARD_CATALOG=str(lab / "catalog.yml"), PATH=f"{VENV_BIN}:{env.get('PATH', '')}", **extra)
    env.pop("ANSIBLE_CONFIG", None)
    return env


def run_playbook(lab, *args, playbook="results.yml", **env):
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(lab / "inventory" / "hosts.ini"), str(lab / playbook), *args],
        cwd=ROOT,  # ansible.cfg there enables the callback and finds the collection
        env=playbook_env(lab, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def by_control(document):
    found = {}
    for result in document["results"]:
        found.setdefault(result["control"], []).append(result)
    return found


def check_document(document, playbook_name="results.yml"):
    assert document["schema"] == "hisguard.results/1"
    assert document["run"]["playbook"].endswith(playbook_name)
    assert document["run"]["hosts"] == ["localhost"]
    assert document["run"]["stats"]["localhost"]["ignored"] == 1
    assert document["run"]["started"] <= document["run"]["finished"]
    results = by_control(document)
    assert len(document["results"]) == 7
    for result in document["results"]:
        assert set(result) == set(RESULT_FIELDS)
        assert result["host"] == "localhost"

    passed = results["P1.3.6"][0]
    assert passed["status"] == "pass"
    assert passed["evidence"] == {"file": "/etc/modprobe.d/hisguard-usb.conf"}
    assert passed["task"] == "P1.3.6 | AUDIT | usb-storage is blocked"

    waived = results["P1.3.8"][0]
    assert waived["status"] == "waived"  # valid through its expiry day
    assert waived["waiver"]["ticket"] == "OA-2025-0412" and waived["waiver"]["approver"] == "信息科 王主任"
    assert (
        waived["observed"] == "clamav not installed"
        and waived["remediation"] == "hisguard harden --tags P1.3.8"
    )

    expired = results["P1.3.9"][0]
    assert expired["status"] == "fail"  # the expired waiver no longer waives
    assert expired["waiver"] is None and expired["expired_waiver"]["ticket"] == "OA-2024-0007"
    assert expired["observed"] == ["default via 10.0.0.1"]
    assert [w["ticket"] for w in document["expired_waivers"]] == ["OA-2024-0007"]
    assert document["expired_waivers"][0]["hosts_affected"] == ["localhost"]

    assert [r["status"] for r in results["P3.8.5"]] == ["error", "not_applicable"]
    assert [r["status"] for r in results["P1.3.6"]] == ["pass", "not_applicable"]

    unknown = results["P9.9.9"][0]
    assert unknown["status"] == "error" and "unknown control ID 'P9.9.9'" in unknown["observed"]


def test_ansible_playbook_writes_results_file(lab):
    out = lab / "out" / "results.json"
    proc = run_playbook(lab, HISGUARD_RESULTS_FILE=str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "unknown control ID 'P9.9.9'" in proc.stdout + proc.stderr
    check_document(json.loads(out.read_text(encoding="utf-8")))
    assert not list(out.parent.glob(".*.tmp"))  # the temporary file was renamed


def test_default_location_is_var_results_under_cwd(lab):
    results_dir = ROOT / "var" / "results"
    before = set(results_dir.glob("*.json")) if results_dir.exists() else set()
    proc = run_playbook(lab)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mine = []
    for path in set(results_dir.glob("*.json")) - before:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document["run"]["playbook"] == str(lab / "results.yml"):
            mine.append(path)
    try:
        assert len(mine) == 1
        check_document(json.loads(mine[0].read_text(encoding="utf-8")))
    finally:
        for path in mine:
            path.unlink()


def test_playbook_without_checks_leaves_no_file_in_var_results(lab):
    (lab / "plain.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: {msg: hello}\n",
        encoding="utf-8",
    )
    results_dir = ROOT / "var" / "results"
    before = set(results_dir.glob("*.json")) if results_dir.exists() else set()
    proc = run_playbook(lab, playbook="plain.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = set(results_dir.glob("*.json")) if results_dir.exists() else set()
    mine = [p for p in after - before if str(lab / "plain.yml") in p.read_text(encoding="utf-8")]
    assert mine == []
    # ... but a caller that asks for the file gets one, even empty
    out = lab / "empty.json"
    proc = run_playbook(lab, playbook="plain.yml", HISGUARD_RESULTS_FILE=str(out))
    assert proc.returncode == 0
    assert json.loads(out.read_text(encoding="utf-8"))["results"] == []


def test_cli_waivers_file_as_extra_vars(lab):
    """`hisguard audit --waivers FILE` passes {hisguard_waivers: [...]} as extra vars."""
    waivers = lab / "cli-waivers.yml"
    waivers.write_text(
        "hisguard_waivers:\n"
        "  - {control: P1.3.9, hosts: [localhost], reason: r, approver: a,\n"
        "     ticket: CLI-1, expires: 2999-01-01}\n",
        encoding="utf-8",
    )
    out = lab / "cli.json"
    proc = run_playbook(lab, "-e", f"@{waivers}", HISGUARD_RESULTS_FILE=str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = by_control(json.loads(out.read_text(encoding="utf-8")))
    assert results["P1.3.9"][0]["status"] == "waived" and results["P1.3.9"][0]["waiver"]["ticket"] == "CLI-1"
    # extra vars replace group_vars: the group's P1.3.8 waiver is not in force for this run
    assert results["P1.3.8"][0]["status"] == "fail"


BAD_WAIVERS = [
    (
        "{control: P1.3.6, hosts: [localhost], reason: r, ticket: T-9, expires: 2999-01-01}",
        "waiver #1 (control P1.3.6, ticket T-9): missing field(s) approver",
    ),
    (
        "{control: P7.7, hosts: [localhost], reason: r, approver: a, ticket: T-9, expires: 2999-01-01}",
        "waiver #1 (control P7.7, ticket T-9): unknown control ID 'P7.7'",
    ),
]


@pytest.mark.parametrize(("waiver", "message"), BAD_WAIVERS)
def test_bad_waiver_fails_the_task_with_a_clear_message(lab, waiver, message):
    waivers = lab / "bad-waivers.yml"
    waivers.write_text(f"hisguard_waivers:\n  - {waiver}\n", encoding="utf-8")
    out = lab / "bad.json"
    proc = run_playbook(lab, "-e", f"@{waivers}", HISGUARD_RESULTS_FILE=str(out))
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["results"][0]["status"] == "error" and message in document["results"][0]["observed"]


def test_ansible_runner_writes_into_the_artifact_dir(lab, monkeypatch):
    ansible_runner = pytest.importorskip("ansible_runner")
    for key in list(os.environ):
        if key.startswith(("HISGUARD_", "AWX_")):
            monkeypatch.delenv(key)
    private = lab / "runner"
    (private / "project").mkdir(parents=True)
    (private / "project" / "results.yml").write_text(PLAYBOOK, encoding="utf-8")
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook="results.yml",
        inventory=str(lab / "inventory" / "hosts.ini"),
        envvars={
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "HISGUARD_CATALOG": str(lab / "catalog.yml"),
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        },
        quiet=True,
    )
    assert runner.rc == 0, runner.stdout.read()
    path = Path(runner.config.artifact_dir) / "hisguard-results.json"
    assert path.exists(), sorted(p.name for p in Path(runner.config.artifact_dir).iterdir())
    check_document(json.loads(path.read_text(encoding="utf-8")))
