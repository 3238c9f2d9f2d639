"""roles/log_review/files/log_review_probe.py: classifying auth messages, journal and auth.log parsing."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "log_review_probe", ROOT / "roles" / "log_review" / "files" / "log_review_probe.py"
)
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)


@pytest.mark.parametrize(
    ("identifier", "message", "category"),
    [
        ("sshd", "Invalid user nosuchuser from 10.77.10.1 port 50936", "auth_failures"),
        ("sshd", "Failed password for root from 10.77.10.1 port 22 ssh2", "auth_failures"),
        (
            "sshd",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 rhost=10.77.10.1",
            "auth_failures",
        ),
        ("sshd", "Connection closed by invalid user nosuchuser 10.77.10.1 port 50936 [preauth]", None),
        ("sshd", "Accepted publickey for root from 10.77.10.1 port 44590 ssh2", None),
        ("sudo", "  admin : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/id", "sudo"),
        ("sudo", "pam_unix(sudo:session): session opened for user root", None),
        (
            "useradd",
            "new user: name=v-acme, UID=1000, GID=1000, home=/home/v-acme, shell=/bin/bash",
            "new_accounts",
        ),
        ("groupadd", "new group: name=hisguard-vendor, GID=997", "new_accounts"),
        ("su", "(to postgres) root on none", None),
    ],
)
def test_classify(identifier, message, category):
    assert probe.classify(identifier, message) == category


def test_journal_entries_and_the_period():
    lines = [
        {
            "__REALTIME_TIMESTAMP": "1800000000000000",
            "SYSLOG_IDENTIFIER": "sshd",
            "MESSAGE": "Invalid user x from a",
        },
        {
            "__REALTIME_TIMESTAMP": "1800000100000000",
            "SYSLOG_IDENTIFIER": "sshd",
            "MESSAGE": list(b"Invalid user y"),
        },
        {
            "__REALTIME_TIMESTAMP": "1700000000000000",
            "SYSLOG_IDENTIFIER": "sshd",
            "MESSAGE": "Invalid user old",
        },
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    found = probe.collect(probe.journal_entries(text), 1_799_999_000, 1_800_000_200, max_lines=1)
    assert found["auth_failures"]["count"] == 2
    assert found["auth_failures"]["lines"] == [
        {"time": "2027-01-15T08:01:40+00:00", "text": "sshd: Invalid user y"}
    ]


def test_auth_log_with_rfc3339_stamps():
    text = (
        "2026-11-27T15:11:18.116370+00:00 srv-his sshd[1269]: Invalid user nosuchuser from 10.77.10.1\n"
        "2026-11-27T15:12:00+00:00 srv-his sudo:    admin : TTY=pts/0 ; USER=root ; COMMAND=/usr/bin/id\n"
        "Nov 27 15:12:00 srv-his old-format: ignored\n"
    )
    entries = list(probe.auth_log_entries(text))
    assert [e[1] for e in entries] == ["sshd", "sudo"]
    found = probe.collect(entries, entries[0][0], entries[1][0] + 1, 10)
    assert found["auth_failures"]["count"] == 1 and found["sudo"]["count"] == 1


def test_failed_units():
    assert probe.parse_failed_units("nut-monitor.service loaded failed failed NUT monitor\n") == [
        "nut-monitor.service"
    ]
    assert probe.parse_failed_units("") == []


def test_bad_input_exits_2(capsys):
    assert probe.main(["probe", '{"since": 10, "until": 5}']) == 2
    assert probe.main(["probe"]) == 2
    assert "usage" in capsys.readouterr().err
