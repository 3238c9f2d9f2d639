"""hisguard.notify: settings, which reminders are due, delivery to a webhook and by mail (to the local
receiver on 127.0.0.1), each deadline once, failures retried, and no secret in any record."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from hisguard import incident as m
from hisguard import incident_timeline as tl
from hisguard import notify
from hisguard.errors import UserError
from hisguard.store import Store

T0 = datetime(2025, 6, 1, 1, 0, tzinfo=UTC)
TOKEN = "tok-3f9c1d-not-for-logs"
PASSWORD = "smtp-pw-77a1e0-not-for-logs"


def incident(cls="1", **extra):
    e = m.Entry(
        T0, "wang", "incident.open", {"id": "INC-20250601T010000Z-abcd", "class": cls, "summary": "HIS down"}
    )
    return m.replay([e, *extra.get("more", [])])


def secret_file(path, text):
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def settings_file(tmp_path):
    def write(data):
        path = tmp_path / "incident.yml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        return path

    return write


# ----------------------------------------------------------------------------------------- settings
def test_no_settings_file_means_defaults_and_no_channel(tmp_path, monkeypatch):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path))
    monkeypatch.delenv(notify.CONFIG_ENV, raising=False)
    s = notify.load_settings()
    assert (s.organization, s.timezone, s.channels) == ("hospital", "Asia/Shanghai", ())


@pytest.mark.parametrize(
    "data,message",
    [
        ({"organization": "clinic"}, "hospital or agency"),
        ({"timezone": "Mars/Base"}, "not a known zone"),
        ({"contacts": {"mayor": ["x"]}}, "unknown role 'mayor'"),
        ({"notify": {"webhook": {"url": "ftp://x"}}}, "http:// or https://"),
        (
            {"notify": {"mail": {"host": "h", "sender": "a@b", "to": ["c@d"], "password": "p"}}},
            "password_file",
        ),
        ({"notify": {"mail": {"host": "h"}}}, "needs host, sender and to"),
        ({"surprise": 1}, "unknown setting"),
    ],
)
def test_bad_settings_say_what_to_fix(settings_file, data, message):
    with pytest.raises(UserError, match=message):
        notify.load_settings(settings_file(data))


def test_secret_files_must_be_private(settings_file, tmp_path):
    token = secret_file(tmp_path / "token", TOKEN)
    token.chmod(0o644)
    with pytest.raises(UserError, match="chmod 600"):
        notify.load_settings(
            settings_file({"notify": {"webhook": {"url": "http://127.0.0.1:1/", "token_file": str(token)}}})
        )
    with pytest.raises(UserError, match="does not exist"):
        notify.load_settings(tmp_path / "missing.yml")


# ---------------------------------------------------------------------------------------- reminders
def test_due_reminders_follow_the_deadlines():
    inc = incident()
    before = timedelta(minutes=10)
    at = lambda minutes: m.assess(inc, T0 + timedelta(minutes=minutes))  # noqa: E731
    assert [r.key for r in notify.due_reminders(at(1), before)] == ["opened"]
    assert [r.key for r in notify.due_reminders(at(21), before)] == ["opened", "paper-30min"]
    late = notify.due_reminders(at(31), before)
    assert late[1].overdue and set(late[1].departments) >= {"pharmacy", "outpatient-billing"}
    assert [r.key for r in notify.due_reminders(m.assess(incident(cls="3"), T0), before)] == []


def test_payload_is_bilingual_and_local_time():
    inc = incident()
    reminder = notify.due_reminders(m.assess(inc, T0 + timedelta(minutes=25)), timedelta(minutes=10))[1]
    body = notify.payload(inc, reminder, m.ZoneInfo("Asia/Shanghai"))
    assert body["due_local"] == "2025-06-01 09:30 +08:00"
    assert "门诊挂号" in body["text"] and "outpatient registration" in body["text_en"]
    assert body["deadline"] == "paper-30min" and body["article"] == "P3.5.2"


# ----------------------------------------------------------------------------------------- delivery
@pytest.fixture
def var(tmp_path, monkeypatch):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("HISGUARD_DB", str(tmp_path / "var" / "hisguard.db"))
    return tmp_path / "var"


def channels(rx, tmp_path, **webhook):
    token = secret_file(tmp_path / "token", TOKEN)
    password = secret_file(tmp_path / "smtp-password", PASSWORD)
    return notify.Settings(
        webhook=notify.Webhook(rx.webhook_url, token, 5, **webhook),
        mail=notify.Mail(
            "127.0.0.1",
            rx.smtp_port,
            "hisguard@lab.internal",
            ("oncall@lab.internal",),
            False,
            "hisguard",
            password,
        ),
        remind_before=timedelta(minutes=10),
    )


def test_each_reminder_goes_out_once_per_channel(var, tmp_path):
    with notify.LocalReceiver() as rx, Store() as store:
        settings = channels(rx, tmp_path)
        incident_id = tl.open_incident(
            store, {"org": "hospital", "class": "1", "summary": "HIS down"}, drill=False
        )
        inc = tl.load(store, incident_id).incident

        def run(minutes):
            a = m.assess(inc, inc.opened + timedelta(minutes=minutes))
            return notify.notify(
                store, a, settings, lambda d: tl.record(store, incident_id, "incident.notify", d)
            )

        first = run(1)
        assert [(s.key, s.channel, s.ok) for s in first] == [
            ("opened", "webhook", True),
            ("opened", "mail", True),
        ]
        assert run(2) == []  # nothing twice
        assert [s.key for s in run(25)] == ["paper-30min", "paper-30min"]
        assert run(26) == []
        assert [p["deadline"] for p in rx.posts] == ["opened", "paper-30min"]
        assert all(p["_authorization"] == f"Bearer {TOKEN}" for p in rx.posts)
        assert [str(mail["Subject"]).split()[2] for mail in rx.mails] == ["opened:", "paper-30min:"]
        assert "门诊挂号" in rx.mails[1].get_body().get_content()
        notified = [e for e in tl.load(store, incident_id).entries if e.action == "incident.notify"]
        assert len(notified) == 4 and all(e.detail["ok"] for e in notified)


def test_a_failed_delivery_is_recorded_and_retried_and_leaks_no_secret(var, tmp_path):
    with notify.LocalReceiver(fail_http=500) as rx, Store() as store:
        settings = channels(rx, tmp_path)
        settings = notify.Settings(webhook=settings.webhook, remind_before=settings.remind_before)
        incident_id = tl.open_incident(store, {"org": "hospital", "class": "2", "summary": "x"}, drill=False)
        inc = tl.load(store, incident_id).incident
        a = m.assess(inc, inc.opened)
        record = lambda d: tl.record(store, incident_id, "incident.notify", d)  # noqa: E731
        failed = notify.notify(store, a, settings, record)
        assert [(s.ok, s.error) for s in failed] == [(False, f"webhook {rx.webhook_url} answered HTTP 500")]
        rx.fail_http = 0
        assert [s.ok for s in notify.notify(store, a, settings, record)] == [True]
        assert store.incident_notifications(incident_id)[0]["attempts"] == 2
    everything = tl.timeline_file(incident_id).read_text() + json.dumps(store_dump(var))
    assert TOKEN not in everything and PASSWORD not in everything


def store_dump(var):
    with Store() as store:
        return [
            dict(r)
            for t in ("incidents", "incident_events", "incident_notifications")
            for r in store.db.execute(f"SELECT * FROM {t}")
        ]


def test_unreachable_receivers_are_reported_not_raised(var, tmp_path):
    with notify.LocalReceiver() as rx:
        settings = channels(rx, tmp_path)
    # The receiver is gone: both channels fail with a message, nothing escapes as an exception.
    with Store() as store:
        incident_id = tl.open_incident(store, {"org": "hospital", "class": "1", "summary": "x"}, drill=False)
        a = m.assess(tl.load(store, incident_id).incident, datetime.now(UTC))
        sent = notify.notify(store, a, settings, lambda d: None)
    assert [s.ok for s in sent] == [False, False]
    assert "not reachable" in sent[0].error and "failed" in sent[1].error and PASSWORD not in sent[1].error


def test_status_sends_due_reminders_and_notify_is_idempotent(var, tmp_path):
    env = dict(os.environ)
    with notify.LocalReceiver() as rx:
        token = secret_file(tmp_path / "token", TOKEN)
        config = tmp_path / "incident.yml"
        config.write_text(
            yaml.safe_dump({"notify": {"webhook": {"url": rx.webhook_url, "token_file": str(token)}}})
        )
        env[notify.CONFIG_ENV] = str(config)
        cli = [sys.executable, "-m", "hisguard.commands.incident", "incident"]
        run = lambda *a: subprocess.run([*cli, *a], capture_output=True, text=True, env=env, timeout=120)  # noqa: E731
        assert run("open", "--class", "1", "--summary", "HIS down").returncode == 0
        status = run("status")
        assert status.returncode == 0 and "opened → webhook" in status.stdout
        again = run("notify")
        assert again.returncode == 0 and again.stdout == ""
        assert [p["deadline"] for p in rx.posts] == ["opened"]
        report = run("report", "--format", "json", "--output", "-")
        assert TOKEN not in status.stdout + again.stdout + report.stdout
        assert json.loads(report.stdout)["notifications"][0]["state"] == "sent"
