"""roles/patching/files/patching_status.py: apt output, ages, the window, the reboot policy, findings."""

import datetime
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles" / "patching" / "files" / "patching_status.py"
_spec = importlib.util.spec_from_file_location("patching_status", SCRIPT)
ps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ps)

UTC = datetime.UTC

# apt-get -s upgrade --with-new-pkgs on the lab image against the lab mirror, plus lines seen on Debian 12
# with the security archive (several releases, a new package, a kept-back package).
SIMULATION = """\
NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages have been kept back:
  linux-image-amd64 postgresql-15
The following NEW packages will be installed:
  linux-image-6.1.0-28-amd64
The following packages will be upgraded:
  his-client libssl3 openssl
3 upgraded, 1 newly installed, 0 to remove and 2 not upgraded.
Inst his-client [1.0.0] (1.0.1 bookworm [all])
Inst libssl3 [3.0.15-1~deb12u1] (3.0.16-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst openssl [3.0.15-1] (3.0.16-1 Debian:12.9/stable, Debian-Security:12/stable-security [amd64]) []
Inst linux-image-6.1.0-28-amd64 (6.1.119-1 Debian-Security:12/stable-security [amd64])
Conf his-client (1.0.1 bookworm [all])
Conf libssl3 (3.0.16-1~deb12u1 Debian-Security:12/stable-security [amd64])
"""

PURGE = """\
Reading package lists...
The following packages will be REMOVED:
  inetutils-telnet* telnet*
Purg telnet [0.17+2.4-2+deb12u3]
Purg inetutils-telnet [2:2.4-2+deb12u3]
Remv libfoo1 [1.2-3]
"""

RELEASE = """\
Codename: bookworm
Date: Fri, 27 Nov 2026 11:50:30 +0000
Suite: bookworm
MD5Sum:
 cfd076d5ee515777fe6d7fe603800ebc               73 Release
SHA256:
 ab8ce19cf97cc99f57ebce6d7ac62bce2f3fd3e65d6da8078866f1b28f10abfb               73 Release
"""


# --------------------------------------------------------------------------- apt output


def test_parse_simulation_upgrades_new_and_kept_back():
    parsed = ps.parse_simulation(SIMULATION)
    names = [u["name"] for u in parsed["install"]]
    assert names == ["his-client", "libssl3", "openssl", "linux-image-6.1.0-28-amd64"]
    his = parsed["install"][0]
    assert his == {
        "name": "his-client",
        "installed": "1.0.0",
        "candidate": "1.0.1",
        "releases": ["bookworm"],
        "arch": "all",
    }
    assert parsed["install"][2]["releases"] == ["Debian:12.9/stable", "Debian-Security:12/stable-security"]
    assert parsed["install"][3]["installed"] is None  # a new package
    assert parsed["kept_back"] == ["linux-image-amd64", "postgresql-15"]
    assert parsed["remove"] == []


def test_parse_simulation_removals():
    parsed = ps.parse_simulation(PURGE)
    assert parsed["remove"] == [
        {"name": "telnet", "version": "0.17+2.4-2+deb12u3", "purge": True},
        {"name": "inetutils-telnet", "version": "2:2.4-2+deb12u3", "purge": True},
        {"name": "libfoo1", "version": "1.2-3", "purge": False},
    ]
    assert parsed["install"] == []


def test_parse_simulation_nothing_to_do():
    assert ps.parse_simulation("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n") == {
        "install": [],
        "remove": [],
        "kept_back": [],
    }


def test_parse_print_uris_and_deb_names():
    text = (
        "'http://mirror.lab.internal/debian/pool/main/his-client_1.0.1_all.deb' his-client_1.0.1_all.deb 848 "
        "MD5Sum:111652065821bb3472c777a97923df63\n"
        "'http://deb.example/pool/inetutils-telnet_2%3a2.4-2_amd64.deb' "
        "inetutils-telnet_2%3a2.4-2_amd64.deb 1 SHA256:ab\n"
    )
    uris = ps.parse_print_uris(text)
    assert (
        uris["his-client_1.0.1_all.deb"]
        == "http://mirror.lab.internal/debian/pool/main/his-client_1.0.1_all.deb"
    )
    assert ps.package_of_debfile("inetutils-telnet_2%3a2.4-2_amd64.deb") == ("inetutils-telnet", "2:2.4-2")
    assert ps.package_of_debfile("his-client_1.0.1_all.deb") == ("his-client", "1.0.1")


def test_parse_release_skips_hash_lists():
    fields = ps.parse_release(RELEASE)
    assert fields == {"Codename": "bookworm", "Date": "Fri, 27 Nov 2026 11:50:30 +0000", "Suite": "bookworm"}


def test_parse_release_inrelease_signed():
    text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nSuite: stable-security\n"
    assert ps.parse_release(text)["Origin"] == "Debian"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Fri, 27 Nov 2026 11:50:29 GMT", datetime.datetime(2026, 11, 27, 11, 50, 29, tzinfo=UTC)),
        ("Fri, 27 Nov 2026 19:50:29 +0800", datetime.datetime(2026, 11, 27, 11, 50, 29, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_http_date(value, expected):
    assert ps.parse_http_date(value) == expected


def test_release_date_for_uri_picks_the_archive_of_the_deb():
    releases = {
        "mirror.lab.internal_debian_dists_bookworm_Release": {"Date": "Fri, 27 Nov 2026 11:50:30 +0000"},
        "mirror.lab.internal_debian_dists_bookworm-updates_Release": {
            "Date": "Sat, 21 Nov 2026 08:00:00 +0000"
        },
        "mirror.lab.internal_debian-security_dists_bookworm-security_InRelease": {
            "Date": "Mon, 02 Nov 2026 08:00:00 +0000"
        },
    }
    uri = "http://mirror.lab.internal/debian/pool/main/h/his-client/his-client_1.0.1_all.deb"
    assert ps.release_date_for_uri(uri, releases) == datetime.datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    other = "http://user@mirror.lab.internal/debian-security/pool/updates/x.deb"
    assert ps.release_date_for_uri(other, releases) == datetime.datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert ps.release_date_for_uri("http://elsewhere/debian/pool/x.deb", releases) is None


def test_security_classification():
    assert ps.is_security(["Debian-Security:12/stable-security"], ["*security*"])
    assert ps.is_security(["Ubuntu:22.04/jammy-SECURITY"], ["*security*"])
    assert not ps.is_security(["bookworm"], ["*security*"])
    assert ps.is_security(["hospital:1/bookworm-patches"], ["*security*", "hospital:*/*-patches"])


def test_age_days():
    now = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert ps.age_days(datetime.datetime(2026, 11, 27, 12, 0, tzinfo=UTC), now) == 3.0
    assert ps.age_days(datetime.datetime(2026, 12, 1, tzinfo=UTC), now) == 0.0  # clock skew: never negative
    assert ps.age_days(None, now) is None


# --------------------------------------------------------------------------- maintenance window

WEEKEND = {"days": ["Sat", "Sun"], "start": "01:00", "end": "05:00"}
# 2026-11-28 is a Saturday.
SAT = datetime.datetime(2026, 11, 28)


@pytest.mark.parametrize(
    ("spec", "now", "is_open"),
    [
        (WEEKEND, SAT.replace(hour=1), True),  # opens at 01:00 sharp
        (WEEKEND, SAT.replace(hour=4, minute=59, second=59), True),
        (WEEKEND, SAT.replace(hour=5), False),  # closes at 05:00
        (WEEKEND, SAT.replace(hour=0, minute=59), False),
        (WEEKEND, SAT - datetime.timedelta(days=1, hours=-2), False),  # Friday 02:00
        (WEEKEND, SAT + datetime.timedelta(days=1, hours=3), True),  # Sunday 03:00
        # past midnight: Saturday 23:00 -> Sunday 02:00 belongs to Saturday
        ({"days": ["Sat"], "start": "23:00", "end": "02:00"}, SAT.replace(hour=23, minute=30), True),
        (
            {"days": ["Sat"], "start": "23:00", "end": "02:00"},
            SAT + datetime.timedelta(days=1, hours=1),
            True,
        ),
        ({"days": ["Sat"], "start": "23:00", "end": "02:00"}, SAT.replace(hour=1), False),  # that is Friday's
        (
            {"days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "start": "00:00", "end": "24:00"},
            SAT,
            True,
        ),
        ({"days": ["saturday"], "start": "0:00", "end": "24:00"}, SAT.replace(hour=23, minute=59), True),
        ({"days": [], "start": "01:00", "end": "05:00"}, SAT.replace(hour=2), False),  # change freeze
    ],
)
def test_window_state(spec, now, is_open):
    assert ps.window_state(spec, now)["open"] is is_open


def test_window_state_times():
    state = ps.window_state(WEEKEND, SAT.replace(hour=2))
    assert state["opened_at"] == "2026-11-28T01:00:00"
    assert state["closes_at"] == "2026-11-28T05:00:00"
    assert state["next_open"] == "2026-11-29T01:00:00"
    closed = ps.window_state(WEEKEND, datetime.datetime(2026, 11, 25, 12))  # Wednesday
    assert closed == {"open": False, "opened_at": None, "closes_at": None, "next_open": "2026-11-28T01:00:00"}
    assert ps.window_state({"days": [], "start": "01:00", "end": "05:00"}, SAT)["next_open"] is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Sat 01:00-05:00", "must be a mapping"),
        ({"days": ["Sat"], "start": "01:00"}, "patching_maintenance_window.end is missing"),
        ({"days": "Sat,Sun", "start": "01:00", "end": "05:00"}, "must be a list of day names"),
        ({"days": ["Samstag"], "start": "01:00", "end": "05:00"}, "'Samstag' is not a day name"),
        ({"days": ["Sat1"], "start": "01:00", "end": "05:00"}, "'Sat1' is not a day name"),
        (
            {"days": ["Sat"], "start": "1am", "end": "05:00"},
            "patching_maintenance_window.start: '1am' is not a time",
        ),
        ({"days": ["Sat"], "start": "24:00", "end": "05:00"}, "start: '24:00' is not a valid time"),
        ({"days": ["Sat"], "start": "01:00", "end": "25:00"}, "end: '25:00' is not a valid time"),
        ({"days": ["Sat"], "start": "01:60", "end": "05:00"}, "start: '01:60' is not a valid time"),
        ({"days": ["Sat"], "start": "01:00", "end": "01:00"}, "start and end are equal"),
        ({"days": ["Sat"], "start": "01:00", "end": "05:00", "tz": "UTC"}, "unknown key(s) tz"),
    ],
)
def test_parse_window_rejects_bad_input(spec, message):
    with pytest.raises(ValueError) as info:
        ps.parse_window(spec)
    assert message in str(info.value)


# --------------------------------------------------------------------------- reboot policy


@pytest.mark.parametrize(
    ("policy", "enforce", "window_open", "updated", "required", "container", "action"),
    [
        ("always", False, True, True, True, False, "none"),  # audit never reboots
        ("never", True, True, True, True, False, "none"),
        ("if_required", True, True, True, False, False, "none"),
        ("if_required", True, True, False, True, False, "reboot"),
        ("if_required", True, False, False, True, False, "deferred"),
        ("if_required", True, True, True, True, True, "not_possible"),
        ("always", True, True, True, False, False, "reboot"),
        ("always", True, True, False, False, False, "none"),  # nothing installed, nothing required
        ("always", True, False, True, False, False, "deferred"),
        ("always", True, True, False, True, True, "not_possible"),
    ],
)
def test_reboot_decision(policy, enforce, window_open, updated, required, container, action):
    decision = ps.reboot_decision(policy, enforce, window_open, updated, required, container)
    assert decision["action"] == action
    assert decision["reason"]


def test_reboot_decision_rejects_unknown_policy():
    with pytest.raises(ValueError, match="patching_reboot_policy: 'sometimes'"):
        ps.reboot_decision("sometimes", True, True, True, True, False)


# --------------------------------------------------------------------------- findings


def status(**overrides):
    base = {
        "pending": [],
        "kept_back": [],
        "lists": {"mode": "private", "sources": ["mirror.lab.internal/debian"]},
        "reboot": {"required": False},
        "errors": [],
    }
    base.update(overrides)
    return base


HIS = {
    "name": "his-client",
    "installed": "1.0.0",
    "candidate": "1.0.1",
    "security": False,
    "available_since": "2026-11-27T11:50:29+00:00",
    "age_days": 2.5,
}


def test_evaluate_clean_host_passes():
    findings = ps.evaluate(status(), 0)
    assert findings["problems"] == [] and findings["errors"] == []
    assert findings["good"] == [
        "no pending updates from mirror.lab.internal/debian (private lists)",
        "no reboot pending",
    ]


def test_evaluate_pending_update_fails():
    findings = ps.evaluate(status(pending=[HIS]), 0)
    assert findings["problems"] == [
        "1 pending update(s) from the configured mirror: his-client 1.0.0 -> 1.0.1 "
        "(on the mirror since 2026-11-27T11:50:29+00:00, 2.5 days)"
    ]


def test_evaluate_grace_period():
    assert ps.evaluate(status(pending=[HIS]), 3)["problems"] == []
    assert "within the 3-day grace period" in ps.evaluate(status(pending=[HIS]), 3)["good"][0]
    assert ps.evaluate(status(pending=[HIS]), 2)["problems"]
    undated = dict(HIS, age_days=None, available_since=None)
    assert ps.evaluate(status(pending=[undated]), 30)["problems"]  # an undated update is not excused


def test_evaluate_kept_back_and_reboot():
    reboot = {
        "required": True,
        "since": "2026-11-27T12:05:45+00:00",
        "packages": ["libc6"],
        "decision": {"action": "not_possible", "reason": "not rebooted: the host is a container"},
    }
    findings = ps.evaluate(status(kept_back=["linux-image-amd64"], reboot=reboot), 0)
    assert findings["problems"] == [
        "kept back (needs a manual dist-upgrade or a decision): linux-image-amd64",
        "reboot required since 2026-11-27T12:05:45+00:00 (for libc6); not rebooted: the host is a container",
    ]


def test_evaluate_errors_win():
    findings = ps.evaluate(status(errors=["refreshing the package lists ... failed"]), 0)
    assert findings["errors"] == ["refreshing the package lists ... failed"]
    assert findings["problems"] == []


# --------------------------------------------------------------------------- the script's command line


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


def test_script_rejects_bad_window_with_a_message():
    proc = run_script(json.dumps({"window": {"days": ["Sat"], "start": "25:00", "end": "05:00"}}))
    assert proc.returncode == 2
    assert "patching_maintenance_window.start: '25:00'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_script_rejects_bad_policy_and_bad_json():
    proc = run_script(json.dumps({"window": WEEKEND, "reboot_policy": "sometimes"}))
    assert proc.returncode == 2 and "patching_reboot_policy: 'sometimes'" in proc.stderr
    proc = run_script("{not json")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert run_script().returncode == 2
