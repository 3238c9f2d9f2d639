"""P1.3.8 P1.4.14 P2.5.1 P2.5.4: verify the enforced hosts, the audit-only host and the results files."""

import re

import pytest
from conftest import (
    AUDITED,
    ENFORCED,
    MIRROR_HOST,
    NOCAP,
    SNAPSHOT,
    ephemeral,
    only_result,
    results_of,
    write_eicar,
)

CONTROLS = ["P1.3.8", "P1.4.14", "P2.5.1", "P2.5.4"]
WORKSTATION_CONTROLS = ["P1.3.8", "P1.4.14", "P2.5.4"]
FRESHCLAM_CONF = "/etc/clamav/freshclam.conf"
SOURCE_DIRECTIVES = ("DatabaseMirror", "PrivateMirror", "DatabaseCustomURL", "DNSDatabaseInfo")
SCAN_LOG = "/var/log/clamav/hisguard-antivirus-scan.log"
QUARANTINE = "/var/lib/hisguard/quarantine"


def directives(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            pairs.append((name, value.strip()))
    return pairs


def host_of(value: str) -> str:
    match = re.match(r"^[a-z]+://([^/:]+)", value)
    return (match.group(1) if match else value.split("/")[0].split(":")[0]).lower()


# ------------------------------------------------------------------ enforced hosts


@pytest.mark.parametrize("host_name", [ENFORCED, NOCAP])
def test_clamd_active(host_name, request):
    host = request.getfixturevalue("enforced" if host_name == ENFORCED else "nocap")
    service = host.service("clamav-daemon")
    assert service.is_running and service.is_enabled
    assert host.check_output("clamdscan --ping 1").strip() == "PONG"


@pytest.mark.parametrize("host_name", [ENFORCED, NOCAP])
def test_clamdscan_detects_eicar_file(host_name, request):
    host = request.getfixturevalue("enforced" if host_name == ENFORCED else "nocap")
    directory = host.check_output("mktemp -d /root/antivirus-verify.XXXXXX")
    try:
        write_eicar(host, f"{directory}/eicar.com")
        assert host.file(f"{directory}/eicar.com").size == 68
        scan = host.run("clamdscan --fdpass --no-summary %s", f"{directory}/eicar.com")
        assert scan.rc == 1, scan.stdout + scan.stderr
        assert re.search(r"eicar\.com: \S+ FOUND", scan.stdout), scan.stdout
        # A clean file next to it is not reported.
        host.check_output("printf 'hello' > %s", f"{directory}/clean.txt")
        assert host.run("clamdscan --fdpass --no-summary %s", f"{directory}/clean.txt").rc == 0
    finally:
        host.run("rm -rf %s", directory)


def test_clamav_installed_from_the_internal_mirror(enforced):
    for package in ("clamav", "clamav-daemon", "clamdscan", "clamav-freshclam"):
        assert enforced.package(package).is_installed
    # apt's lists came from the mirror only, and its log shows the install of this converge.
    lists = enforced.check_output("ls /var/lib/apt/lists").split()
    assert any(name.startswith("mirror.lab.internal_debian_dists_bookworm") for name in lists), lists
    assert "Install: clamav" in enforced.file("/var/log/apt/history.log").content_string


@pytest.mark.parametrize("host_name", [ENFORCED, NOCAP])
def test_updater_names_only_the_internal_mirror(host_name, request):
    host = request.getfixturevalue("enforced" if host_name == ENFORCED else "nocap")
    conf = host.file(FRESHCLAM_CONF)
    assert conf.user == "root" and conf.mode == 0o644
    pairs = directives(conf.content_string)
    sources = [(name, value) for name, value in pairs if name in SOURCE_DIRECTIVES]
    assert ("DNSDatabaseInfo", "no") in sources
    named = [host_of(value) for name, value in sources if name != "DNSDatabaseInfo"]
    assert named and set(named) == {MIRROR_HOST}, sources
    assert ("DatabaseCustomURL", "http://mirror.lab.internal/clamav/hisguard-eicar.hdb") in pairs
    # The mirror serves no .cvd: freshclam does not ask for them.
    assert {value for name, value in pairs if name == "ExcludeDatabase"} == {"main", "daily", "bytecode"}
    # Nothing under /etc/clamav names ClamAV's public servers.
    assert host.run("grep -rIil clamav.net /etc/clamav").stdout == ""
    assert host.service("clamav-freshclam").is_running and host.service("clamav-freshclam").is_enabled


@pytest.mark.parametrize("host_name", [ENFORCED, NOCAP])
def test_signatures_came_from_the_mirror(host_name, request):
    host = request.getfixturevalue("enforced" if host_name == ENFORCED else "nocap")
    local = host.file("/var/lib/clamav/hisguard-eicar.hdb")
    assert local.exists and local.user == "clamav"
    assert local.sha256sum == host.file("/srv/mirror/clamav/hisguard-eicar.hdb").sha256sum
    assert "hisguard-eicar.hdb updated" in host.file("/var/log/clamav/freshclam.log").content_string


@pytest.mark.parametrize("host_name", [ENFORCED, NOCAP])
def test_full_scan_timer_enabled(host_name, request):
    host = request.getfixturevalue("enforced" if host_name == ENFORCED else "nocap")
    timer = host.service("hisguard-antivirus-scan.timer")
    assert timer.is_enabled and timer.is_running
    calendar = host.check_output("systemctl show -p TimersCalendar --value hisguard-antivirus-scan.timer")
    assert "Sun *-*-* 02:00:00" in calendar


def test_full_scan_finds_and_quarantines_the_planted_sample(enforced):
    run = enforced.run("systemctl start hisguard-antivirus-scan.service")
    assert run.rc != 0  # clamdscan exits 1 when it finds something: the unit fails, visibly
    status = enforced.check_output("systemctl show -p ExecMainStatus --value hisguard-antivirus-scan.service")
    assert status.strip() == "1"
    log = enforced.file(SCAN_LOG).content_string
    assert re.search(r"/srv/antivirus-samples/eicar\.com: \S+ FOUND", log), log
    assert "Infected files: 1" in log
    assert not enforced.file("/srv/antivirus-samples/eicar.com").exists
    assert enforced.file(f"{QUARANTINE}/eicar.com").exists
    assert enforced.file(QUARANTINE).mode == 0o700


def inotify_exhausted(host) -> bool:
    """clamonacc's last start failed for want of an inotify instance (a limit of the whole machine)."""
    log = host.file("/var/log/clamav/clamonacc.log").content_string
    return "could not init inotify" in log.rsplit("-" * 38, 1)[-1]


def test_on_access_blocks_an_infected_file(enforced):
    service = enforced.service("clamav-clamonacc")
    assert service.is_running and service.is_enabled
    if inotify_exhausted(enforced):
        pytest.skip("the machine's inotify instances are exhausted by other containers: nothing is watched")
    directory = enforced.check_output("mktemp -d /home/antivirus-verify.XXXXXX")
    try:
        write_eicar(enforced, f"{directory}/eicar.com")
        opened = enforced.run("cat %s", f"{directory}/eicar.com")
        assert opened.rc != 0
        assert "Operation not permitted" in opened.stderr or "No such file" in opened.stderr, opened.stderr
        log = enforced.file("/var/log/clamav/clamonacc.log").content_string
        assert f"{directory}/eicar.com: " in log and "FOUND" in log
    finally:
        enforced.run("rm -rf %s", directory)


def test_on_access_not_started_without_cap_sys_admin(nocap):
    assert not nocap.service("clamav-clamonacc").is_running
    caps = nocap.check_output("grep CapBnd /proc/self/status")
    assert not int(caps.split()[1], 16) >> 21 & 1


# ------------------------------------------------------------------ audit-only host


def test_audit_host_still_stale(audited):
    age_days = float(
        audited.check_output(
            "echo $(( ($(date +%s) - $(stat -c %Y /var/lib/clamav/hisguard-eicar.hdb)) / 86400 ))"
        )
    )
    assert age_days >= 29
    assert "database.clamav.net" in audited.file(FRESHCLAM_CONF).content_string
    assert not audited.file("/etc/systemd/system/hisguard-antivirus-scan.timer").exists
    assert audited.service("clamav-daemon").is_running


@pytest.mark.parametrize("host_name", [ENFORCED, NOCAP, AUDITED])
def test_prepare_audit_changed_nothing(host_name):
    before = ephemeral() / f"state-{host_name}-before-audit.txt"
    after = ephemeral() / f"state-{host_name}-after-audit.txt"
    assert before.read_text() == after.read_text()
    assert len(before.read_text().splitlines()) > 100


def test_audit_host_unchanged_since_prepare(audited):
    """check, converge and idempotence ran the role in audit mode three more times on this host."""
    before = (ephemeral() / f"state-{AUDITED}-before-audit.txt").read_text()
    assert audited.check_output(SNAPSHOT) + "\n" == before


# ------------------------------------------------------------------ results (compliance callback)


@pytest.mark.parametrize("host_name", [ENFORCED, NOCAP, AUDITED])
def test_results_before_enforce_fail(audit_results, host_name):
    controls = CONTROLS if host_name == ENFORCED else WORKSTATION_CONTROLS
    for control in controls:
        result = only_result(audit_results, host_name, control)
        assert result["status"] == "fail", (control, result["observed"])
        assert result["role"].split(".")[-1] == "antivirus"
        assert result["evidence"]["mode"] == "audit"
        assert result["remediation"]
    stats = audit_results["run"]["stats"][host_name]
    assert stats["changed"] == 0 and stats["failures"] == 0


def test_results_before_enforce_say_why(audit_results):
    purged = " ".join(only_result(audit_results, ENFORCED, "P1.3.8")["observed"])
    assert "ClamAV packages not installed: clamav, clamav-daemon, clamdscan, clamav-freshclam" in purged
    stale = only_result(audit_results, AUDITED, "P1.3.8")
    text = " ".join(stale["observed"])
    assert re.search(r"signatures are (29|30)\.\d+ days old", text), text
    assert "database.clamav.net" in text
    assert "no scheduled full scan" in text
    assert stale["evidence"]["signature_age_days"] >= 29
    assert stale["evidence"]["daemon"]["state"] == "active"
    # clamd runs and detects EICAR (streamed from memory), so the audit says so.
    assert stale["evidence"]["daemon"]["eicar_self_test"]["detected"] is True


def test_workstations_report_no_p251(audit_results, converge_results):
    for document in (audit_results, converge_results):
        for host_name in (NOCAP, AUDITED):
            assert results_of(document, host_name, "P2.5.1") == []


def test_results_after_enforce_pass(converge_results):
    for control in ("P1.3.8", "P2.5.1", "P2.5.4"):
        result = only_result(converge_results, ENFORCED, control)
        assert result["status"] == "pass", (control, result["observed"])
        assert result["evidence"]["mode"] == "enforce"
    evidence = only_result(converge_results, ENFORCED, "P1.4.14")["evidence"]
    assert evidence["daemon"]["eicar_self_test"]["detected"] is True
    assert evidence["signature_age_days"] < 1
    assert {s["host"] for s in evidence["updater"]["sources"]} == {MIRROR_HOST}


def test_results_after_enforce_on_access(converge_results, enforced):
    result = only_result(converge_results, ENFORCED, "P1.4.14")
    if inotify_exhausted(enforced):
        # The machine's per-user inotify instances (fs.inotify.max_user_instances, shared by all containers of
        # the same user) ran out: clamonacc cannot walk its directories, and the audit must say so, not pass.
        assert result["status"] == "fail" and "could not init inotify" in " ".join(result["observed"])
        pytest.skip("inotify instances of the machine exhausted by other containers; the audit reported it")
    assert result["status"] == "pass", result["observed"]
    evidence = result["evidence"]
    assert evidence["on_access"]["state"] == "active"
    assert evidence["on_access"]["fanotify_marks"] > 0
    assert evidence["on_access"]["watched"] == {"/home": True, "/tmp": True, "/var/tmp": True}


def test_results_without_cap_sys_admin(converge_results):
    for control in ("P1.3.8", "P2.5.4"):
        assert only_result(converge_results, NOCAP, control)["status"] == "pass"
    result = only_result(converge_results, NOCAP, "P1.4.14")
    assert result["status"] == "not_applicable", result["observed"]
    assert any("no CAP_SYS_ADMIN" in line for line in result["observed"]), result["observed"]
    assert result["evidence"]["on_access"]["platform"]["possible"] is False


def test_results_audit_host_still_fails(converge_results):
    for control in WORKSTATION_CONTROLS:
        result = only_result(converge_results, AUDITED, control)
        assert result["status"] == "fail", control
        assert result["evidence"]["mode"] == "audit"


def test_last_run_changed_nothing(converge_results):
    """results-converge.json is written by the idempotence run last."""
    for host_name in (ENFORCED, NOCAP, AUDITED):
        assert converge_results["run"]["stats"][host_name]["changed"] == 0
