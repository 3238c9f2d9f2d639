"""roles/antivirus/files/antivirus_probe.py: ClamAV file and log parsers, the checks of each control."""

import importlib.util
import json
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "antivirus_probe", ROOT / "roles" / "antivirus" / "files" / "antivirus_probe.py"
)
av = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(av)

MIRROR = "http://mirror.lab.internal/clamav"
NOW = 1_800_000_000.0
DAY = 86400.0

# As Debian's clamav-freshclam postinst writes it.
DEBIAN_FRESHCLAM = """\
# Automatically created by the clamav-freshclam postinst
DatabaseOwner clamav
UpdateLogFile /var/log/clamav/freshclam.log
DatabaseDirectory /var/lib/clamav
DNSDatabaseInfo current.cvd.clamav.net
Checks 24
DatabaseMirror db.local.clamav.net
DatabaseMirror database.clamav.net
"""

# As the role writes it for the lab's mirror (no .cvd, one custom database).
HISGUARD_FRESHCLAM = f"""\
# Ansible managed
DatabaseOwner clamav
DNSDatabaseInfo no
ScriptedUpdates no
PrivateMirror {MIRROR}
ExcludeDatabase main
ExcludeDatabase daily
ExcludeDatabase bytecode
DatabaseCustomURL {MIRROR}/hisguard-eicar.hdb
"""

RUNNING = {"running": True, "observed": "clamav-freshclam.service active and enabled"}


def cvd_header(fields: list[str]) -> bytes:
    return ":".join(fields).encode("ascii").ljust(512, b" ")


# --------------------------------------------------------------------------- configuration files


def test_parse_conf_keeps_order_and_repeats():
    conf = av.parse_conf("# comment\n\nDatabaseMirror a\nDatabaseMirror b\n  LogTime yes \nFoo\n")
    assert conf == {"DatabaseMirror": ["a", "b"], "LogTime": ["yes"], "Foo": ["yes"]}
    assert av.conf_first(conf, "DatabaseMirror") == "a"
    assert av.conf_first(conf, "Missing", "x") == "x"


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("database.clamav.net", "database.clamav.net"),
        ("db.local.clamav.net:8080", "db.local.clamav.net"),
        ("http://mirror.lab.internal/clamav", "mirror.lab.internal"),
        ("https://user@Mirror.Lab.Internal:8443/x/y", "mirror.lab.internal"),
        ("http://[fd00::1]:80/clamav", "fd00::1"),
        ("file:///srv/clamav/x.hdb", None),
        ("", None),
    ],
)
def test_url_host(value, host):
    assert av.url_host(value) == host


def test_debian_defaults_name_public_hosts():
    sources = av.updater_sources(av.parse_conf(DEBIAN_FRESHCLAM))
    foreign = av.foreign_sources(sources, "mirror.lab.internal")
    assert {s["host"] for s in foreign} == {
        "current.cvd.clamav.net",
        "db.local.clamav.net",
        "database.clamav.net",
    }
    assert not any(s["overridden"] for s in foreign)


def test_missing_directives_fall_back_to_public_defaults():
    sources = av.updater_sources(av.parse_conf("DatabaseOwner clamav\n"))
    assert [(s["directive"], s["host"], s["implicit"]) for s in sources] == [
        ("DatabaseMirror", "database.clamav.net", True),
        ("DNSDatabaseInfo", "current.cvd.clamav.net", True),
    ]


def test_private_mirror_overrides_but_public_names_still_count():
    conf = av.parse_conf(DEBIAN_FRESHCLAM + f"PrivateMirror {MIRROR}\n")
    foreign = av.foreign_sources(av.updater_sources(conf), "mirror.lab.internal")
    assert foreign and all(s["overridden"] for s in foreign)
    assert "overridden by PrivateMirror" in av.describe_source(foreign[0])


def test_hisguard_config_names_only_the_mirror():
    sources = av.updater_sources(av.parse_conf(HISGUARD_FRESHCLAM))
    assert {s["host"] for s in sources} == {"mirror.lab.internal"}
    assert av.foreign_sources(sources, "mirror.lab.internal") == []


# --------------------------------------------------------------------------- databases


def test_cvd_header_epoch_field():
    header = cvd_header(
        [
            "ClamAV-VDB",
            "27 Nov 2026 04-27 -0400",
            "27694",
            "2065934",
            "90",
            "md5",
            "sig",
            "raynman",
            "1795000000",
        ]
    )
    parsed = av.parse_cvd_header(header)
    assert parsed == {
        "build_time": 1795000000.0,
        "version": 27694,
        "signatures": 2065934,
        "builder": "raynman",
    }


def test_cvd_header_text_time_when_no_epoch():
    parsed = av.parse_cvd_header(cvd_header(["ClamAV-VDB", "27 Nov 2026 04-27 -0400", "27694", "10"]))
    assert time.gmtime(parsed["build_time"])[:5] == (2026, 11, 27, 8, 27)


@pytest.mark.parametrize("data", [b"", b"not a cvd", cvd_header(["ClamAV-VDB", "garbage"])])
def test_cvd_header_rejects_other_files(data):
    assert av.parse_cvd_header(data) is None


@pytest.mark.parametrize(
    ("name", "signature"),
    [
        ("main.cvd", True),
        ("daily.cld", True),
        ("hisguard-eicar.hdb", True),
        ("local.ndb", True),
        ("freshclam.dat", False),
        ("local.ign2", False),
        ("whitelist.fp", False),
        (".hidden.hdb", False),
    ],
)
def test_signature_files(name, signature):
    assert av.is_signature_file(name) is signature


def test_database_time_is_build_time_for_cvd_else_mtime():
    header = {"build_time": NOW - 3 * DAY, "version": 1, "signatures": 2, "builder": "x"}
    cvd = av.database_entry("daily.cvd", 10, NOW, header, NOW)
    hdb = av.database_entry("x.hdb", 10, NOW - DAY, None, NOW)
    assert cvd["age_days"] == 3.0 and cvd["time_source"].startswith("build time")
    assert hdb["age_days"] == 1.0 and hdb["time_source"] == "mtime"
    assert av.newest_database([cvd, hdb])["name"] == "x.hdb"


def test_missing_databases():
    entries = [{"name": "main.cvd"}, {"name": "daily.cld"}, {"name": "x.hdb"}]
    assert av.missing_databases(entries, ["main", "daily", "bytecode"], ["x.hdb", "y.ndb"]) == [
        "bytecode.cvd/.cld",
        "y.ndb",
    ]


def test_signature_check_fresh_stale_missing():
    fresh = [av.database_entry("x.hdb", 66, NOW - 0.5 * DAY, None, NOW)]
    stale = [av.database_entry("x.hdb", 66, NOW - 30 * DAY, None, NOW)]
    ok = av.check_signatures("/var/lib/clamav", fresh, [], 7)
    assert ok["status"] == "pass" and ok["signature_age_days"] == 0.5
    old = av.check_signatures("/var/lib/clamav", stale, [], 7)
    assert (
        old["status"] == "fail"
        and "30.0 days old" in old["observed"]
        and "older than 7 days" in old["observed"]
    )
    assert av.check_signatures("/var/lib/clamav", [], [], 7)["status"] == "fail"
    assert "missing: y.ndb" in av.check_signatures("/d", fresh, ["y.ndb"], 7)["observed"]
    assert av.check_signatures("/d", [], [], 7, readable=False)["status"] == "error"


# --------------------------------------------------------------------------- logs

FRESHCLAM_LOG = """\
--------------------------------------
Fri Nov 27 12:00:00 2026 -> ClamAV update process started at Fri Nov 27 12:00:00 2026
Fri Nov 27 12:00:00 2026 -> ERROR: Update failed.
--------------------------------------
Fri Nov 27 13:00:00 2026 -> ClamAV update process started at Fri Nov 27 13:00:00 2026
Fri Nov 27 13:00:00 2026 -> WARNING: DNS Update Info disabled. Falling back to HTTP mode.
Fri Nov 27 13:00:00 2026 -> hisguard-eicar.hdb is up-to-date (version: custom database)
"""


def test_last_update_is_the_last_run():
    run = av.last_update(FRESHCLAM_LOG)
    assert run["started"] == "Fri Nov 27 13:00:00 2026"
    assert run["errors"] == []
    assert run["lines"][-1] == "hisguard-eicar.hdb is up-to-date (version: custom database)"
    assert av.last_update("") is None


SCAN_LOG = """\
--------------------------------------
/srv/a/eicar.com: Eicar-Test-Signature FOUND
/srv/a/eicar.com: moved to '/var/lib/hisguard/quarantine/eicar.com'

----------- SCAN SUMMARY -----------
Infected files: 1
Time: 0.006 sec (0 m 0 s)
Start Date: 2026:11:22 02:10:00
End Date:   2026:11:22 02:10:01
--------------------------------------

----------- SCAN SUMMARY -----------
Infected files: 0
Total errors: 2
Time: 0.004 sec (0 m 0 s)
Start Date: 2026:11:29 02:10:00
End Date:   2026:11:29 02:10:05
"""


def test_last_scan_is_the_last_run():
    scan = av.last_scan(SCAN_LOG)
    assert scan["end"] == "2026:11:29 02:10:05"
    assert scan["infected"] == 0 and scan["errors"] == 2 and scan["found"] == []
    first = av.last_scan(SCAN_LOG.split("--------------------------------------\n\n")[0])
    assert first["infected"] == 1 and first["found"] == ["/srv/a/eicar.com: Eicar-Test-Signature FOUND"]
    assert av.last_scan("no summary here") is None


def test_clamonacc_log_errors_of_last_run_and_detections():
    log = (
        "--------------------------------------\nERROR: ClamInotif: old\n"
        "--------------------------------------\nClamInotif: watching '/home' (and all sub-directories)\n"
        "ERROR: ClamInotif: could not init inotify\n/home/u/e.com: Eicar-Test-Signature FOUND\n"
    )
    assert av.last_run_errors(log) == ["ERROR: ClamInotif: could not init inotify"]
    assert av.found_lines(log) == ["/home/u/e.com: Eicar-Test-Signature FOUND"]


# --------------------------------------------------------------------------- platform

FDINFO = """\
pos:\t0
flags:\t02
mnt_id:\t17
ino:\t12
fanotify flags:34 event-flags:8000
fanotify ino:1b6909 sdev:10b mflags:0 mask:8030000 ignored_mask:0 fhandle-bytes:20 fhandle-type:f8 f_handle:00
fanotify mnt_id:2a mflags:0 mask:8030000 ignored_mask:0
"""


def test_fanotify_marks_and_watched_paths():
    marks = av.fanotify_marks([FDINFO, "pos:\t0\n"])
    assert marks == {"count": 2, "inodes": [(0, 0x10B, 0x1B6909)]}
    watched = av.watched_paths({"/home": (0, 267, 0x1B6909), "/tmp": (0, 272, 1), "/gone": None}, marks)
    assert watched == {"/home": True, "/tmp": False, "/gone": False}


def test_capabilities():
    caps = av.capabilities("Name:\tpython3\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a82425fb\n")
    assert not av.has_capability(caps["CapEff"], av.CAP_SYS_ADMIN)
    assert av.has_capability(caps["CapBnd"], av.CAP_SYS_ADMIN)
    assert not av.has_capability(None, av.CAP_SYS_ADMIN)


def test_kernel_config_flags():
    text = "CONFIG_FANOTIFY=y\n# CONFIG_FANOTIFY_ACCESS_PERMISSIONS is not set\nCONFIG_OTHER=m\n"
    names = ("CONFIG_FANOTIFY", "CONFIG_FANOTIFY_ACCESS_PERMISSIONS", "CONFIG_MISSING")
    assert av.kernel_config_flags(text, names) == {
        "CONFIG_FANOTIFY": True,
        "CONFIG_FANOTIFY_ACCESS_PERMISSIONS": False,
    }


FULL_CAPS = int("a82425fb", 16)
NO_SYS_ADMIN = int("a80425fb", 16)
KERNEL_OK = {"CONFIG_FANOTIFY": True, "CONFIG_FANOTIFY_ACCESS_PERMISSIONS": True}


def test_on_access_platform_verdicts():
    assert av.on_access_platform(True, "podman", FULL_CAPS, True, KERNEL_OK)["possible"] is True
    container = av.on_access_platform(True, "podman", NO_SYS_ADMIN, True, KERNEL_OK)
    assert container["possible"] is False and "container (podman) has no CAP_SYS_ADMIN" in container["reason"]
    no_perm = av.on_access_platform(
        False, None, FULL_CAPS, True, {"CONFIG_FANOTIFY": True, "CONFIG_FANOTIFY_ACCESS_PERMISSIONS": False}
    )
    assert no_perm["possible"] is False and "permission events" in no_perm["reason"]
    unknown = av.on_access_platform(False, None, FULL_CAPS, True, {})
    assert unknown["possible"] is None and "assumed" in unknown["reason"]
    assert av.on_access_platform(False, None, FULL_CAPS, False, {})["possible"] is False


# --------------------------------------------------------------------------- checks

ACTIVE = {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled", "Id": "x"}
INACTIVE = {
    "LoadState": "loaded",
    "ActiveState": "inactive",
    "UnitFileState": "disabled",
    "Id": "x",
    "Result": "success",
}
NOT_FOUND = {"LoadState": "not-found", "ActiveState": "inactive", "UnitFileState": "", "Id": "x"}


def test_installed():
    versions = {name: "1.4.3" for name in av.REQUIRED_PACKAGES}
    assert av.check_installed(versions, av.REQUIRED_PACKAGES)["status"] == "pass"
    missing = av.check_installed(dict(versions, clamdscan=None), av.REQUIRED_PACKAGES)
    assert missing["status"] == "fail" and missing["observed"].endswith("clamdscan")


def test_daemon():
    pong = {"ok": True, "version": "ClamAV 1.4.3"}
    assert av.check_daemon(ACTIVE, ACTIVE, pong)["status"] == "pass"
    assert "answers PING" in av.check_daemon(ACTIVE, ACTIVE, pong)["observed"]
    down = av.check_daemon(INACTIVE, INACTIVE, {"ok": False})
    assert down["status"] == "fail" and "inactive" in down["observed"] and "at boot" in down["observed"]
    silent = av.check_daemon(ACTIVE, ACTIVE, {"ok": False, "output": "Connection refused"})
    assert "does not answer PING: Connection refused" in silent["observed"]
    assert av.check_daemon(NOT_FOUND, NOT_FOUND, {})["observed"] == "clamav-daemon.service is not installed"


def test_detection():
    assert (
        av.check_detection(True, True, {"detected": True, "signature": "Win.Test.EICAR_HDB-1"})["status"]
        == "pass"
    )
    assert av.check_detection(True, True, {"detected": False, "rc": 0})["status"] == "fail"
    assert av.check_detection(True, True, {"detected": False, "rc": 2, "output": "boom"})["status"] == "error"
    assert av.check_detection(True, False, {})["status"] == "fail"
    assert av.check_detection(False, False, {})["status"] == "pass"


def test_updates_pass_for_the_role_config():
    result = av.check_updates(
        True, av.parse_conf(HISGUARD_FRESHCLAM), MIRROR + "/", [], ["hisguard-eicar.hdb"], RUNNING
    )
    assert result["status"] == "pass", result["observed"]
    assert "only from the internal mirror" in result["observed"]


def test_updates_fail_for_debian_defaults():
    result = av.check_updates(
        True, av.parse_conf(DEBIAN_FRESHCLAM), MIRROR, [], ["hisguard-eicar.hdb"], RUNNING
    )
    assert result["status"] == "fail"
    assert "database.clamav.net" in result["observed"] and "no DatabaseCustomURL" in result["observed"]


def test_updates_official_databases_need_private_mirror_and_no_exclusion():
    conf = av.parse_conf(f"DNSDatabaseInfo no\nPrivateMirror {MIRROR}\nExcludeDatabase daily\n")
    result = av.check_updates(True, conf, MIRROR, ["main", "daily"], [], RUNNING)
    assert result["status"] == "fail" and "ExcludeDatabase keeps daily" in result["observed"]
    conf = av.parse_conf("DNSDatabaseInfo no\nPrivateMirror http://other.internal/clamav\n")
    assert (
        "PrivateMirror is not the internal mirror"
        in av.check_updates(True, conf, MIRROR, ["main"], [], RUNNING)["observed"]
    )


def test_updates_fail_without_freshclam_or_when_it_does_not_run():
    assert av.check_updates(False, {}, MIRROR, [], [], RUNNING)["status"] == "fail"
    stopped = av.updater_state(INACTIVE, cron_file_present=False)
    result = av.check_updates(
        True, av.parse_conf(HISGUARD_FRESHCLAM), MIRROR, [], ["hisguard-eicar.hdb"], stopped
    )
    assert result["status"] == "fail" and "expected active and enabled" in result["observed"]
    assert av.updater_state(INACTIVE, cron_file_present=True)["running"] is True


UNIT_FILES_OK = [{"path": "/etc/systemd/system/a.timer", "exists": True, "content_ok": True}]


def test_scheduled_scan():
    timer = dict(
        ACTIVE, Id="hisguard-antivirus-scan.timer", NextElapseUSecRealtime="Sun 2026-11-29 02:10:00 UTC"
    )
    assert av.check_scheduled_scan(timer, ACTIVE, UNIT_FILES_OK, None)["status"] == "pass"
    clean = {"end": "2026:11:29 02:10:05", "infected": 0, "errors": 0, "found": []}
    assert "0 infected" in av.check_scheduled_scan(timer, ACTIVE, UNIT_FILES_OK, clean)["observed"]
    infected = dict(clean, infected=1, found=["/srv/a: X FOUND"])
    assert (
        "found 1 infected file(s): /srv/a: X FOUND"
        in av.check_scheduled_scan(timer, ACTIVE, UNIT_FILES_OK, infected)["observed"]
    )
    missing = [{"path": "/etc/systemd/system/a.timer", "exists": False}]
    assert av.check_scheduled_scan(NOT_FOUND, NOT_FOUND, missing, None)["observed"].startswith(
        "no scheduled full scan"
    )
    edited = [{"path": "/etc/systemd/system/a.timer", "exists": True, "content_ok": False}]
    assert (
        "differs from the expected unit" in av.check_scheduled_scan(timer, ACTIVE, edited, None)["observed"]
    )
    disabled = dict(timer, UnitFileState="disabled", ActiveState="inactive")
    assert av.check_scheduled_scan(disabled, ACTIVE, UNIT_FILES_OK, None)["status"] == "fail"


ONACC_CONF = av.parse_conf("OnAccessIncludePath /home\nOnAccessIncludePath /tmp/\nOnAccessPrevention yes\n")
POSSIBLE = {"possible": True, "container": True}
MARKS = {"count": 3, "inodes": []}


def test_on_access_pass_and_its_failures():
    watched = {"/home": True, "/tmp": True}
    ok = av.check_on_access(True, POSSIBLE, ACTIVE, ONACC_CONF, ["/home", "/tmp"], True, MARKS, watched)
    assert ok["status"] == "pass" and "3 fanotify marks" in ok["observed"]
    partly = av.check_on_access(
        True, POSSIBLE, ACTIVE, ONACC_CONF, ["/home", "/tmp"], True, MARKS, {"/home": True}
    )
    assert "does not watch /tmp" in partly["observed"]
    none = av.check_on_access(
        True,
        POSSIBLE,
        ACTIVE,
        ONACC_CONF,
        ["/home"],
        True,
        {"count": 0, "inodes": []},
        {},
        ["ERROR: no inotify"],
    )
    assert "no fanotify marks" in none["observed"] and "ERROR: no inotify" in none["observed"]
    unconfigured = av.check_on_access(True, POSSIBLE, ACTIVE, {}, ["/home"], True, MARKS, {"/home": True})
    assert "no OnAccessIncludePath for /home" in unconfigured["observed"]
    assert "OnAccessPrevention is off" in unconfigured["observed"]
    stopped = av.check_on_access(True, POSSIBLE, INACTIVE, ONACC_CONF, ["/home"], True, MARKS, {})
    assert "expected active" in stopped["observed"]
    assert (
        av.check_on_access(False, POSSIBLE, ACTIVE, ONACC_CONF, ["/home"], True, MARKS, {})["status"]
        == "fail"
    )


def test_on_access_platform_decides_not_applicable_or_fail():
    in_container = {"possible": False, "container": True, "reason": "no CAP_SYS_ADMIN"}
    on_metal = {"possible": False, "container": False, "reason": "no permission events"}
    assert (
        av.check_on_access(True, in_container, INACTIVE, {}, ["/home"], True, MARKS, {})["status"]
        == "not_applicable"
    )
    assert av.check_on_access(True, on_metal, INACTIVE, {}, ["/home"], True, MARKS, {})["status"] == "fail"


def test_summarize_precedence():
    checks = {
        "a": av.check("pass", "A ok"),
        "b": av.check("not_applicable", "B impossible"),
        "c": av.check("error", "C unknown"),
        "d": av.check("fail", "D broken"),
    }
    assert av.summarize(checks, ["a"])["status"] == "pass"
    assert av.summarize(checks, ["a", "b"]) == {
        "status": "not_applicable",
        "problems": [],
        "notes": ["B impossible"],
        "good": ["A ok"],
        "checks": {"a": "pass", "b": "not_applicable"},
    }
    assert av.summarize(checks, ["a", "b", "c"])["status"] == "error"
    assert av.summarize(checks, ["a", "b", "c", "d"])["problems"] == ["C unknown", "D broken"]


# --------------------------------------------------------------------------- arguments


def test_bad_arguments_exit_2_with_a_message(capsys):
    assert av.main(["antivirus_probe.py"]) == 2
    assert av.main(["antivirus_probe.py", "{not json"]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert av.main(["antivirus_probe.py", json.dumps({"mirror_url": MIRROR})]) == 2
    assert "official_databases is missing or of the wrong type" in capsys.readouterr().err


def test_eicar_string_is_the_standard_68_bytes():
    assert len(av.EICAR) == 68
    assert av.EICAR.startswith("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR")
