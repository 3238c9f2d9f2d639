"""Who is told, and how: the incident settings (organization, timezone, contacts, channels) and the
deadline reminders sent to a webhook (JSON POST) and/or by mail (SMTP).

Settings file (YAML): --config, else $HISGUARD_INCIDENT_CONFIG, else <var>/incident.yml; all optional:

    organization: hospital          # or agency (Part 4 of the regulation)
    timezone: Asia/Shanghai         # how times are shown; they are stored in UTC
    contacts:                       # role -> people; `hisguard incident status` shows them
      emergency-leader: ["院长 张三 13800000000"]
      it-director: ["信息科主任 李四 13900000000"]
    agency_departments:             # agencies only: the departments of the re-entry checklist
      - {key: office, zh: 办公室, en: General office}
    notify:
      remind_before: 10             # minutes before a deadline the reminder goes out (default 10)
      webhook:
        url: http://127.0.0.1:8099/hisguard       # http(s) only
        token_file: /etc/hisguard/webhook-token   # optional, mode 0600/0400: `Authorization: Bearer`
        timeout: 5
      mail:
        host: 127.0.0.1
        port: 25
        sender: hisguard@hospital.example
        to: [oncall@hospital.example]
        starttls: false
        username: hisguard                        # optional; with password_file (0600/0400)
        password_file: /etc/hisguard/smtp-password

Each reminder (deadline key x channel) is sent once: the store's incident_notifications table holds
who sent what, across processes (`incident notify` from a timer and `incident status` may race).
LocalReceiver is a small webhook + SMTP receiver on 127.0.0.1 for the lab and the tests.
"""

from __future__ import annotations

import base64
import json
import os
import smtplib
import socketserver
import ssl
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from hisguard import incident as model
from hisguard import paths
from hisguard.errors import UserError

CONFIG_ENV = "HISGUARD_INCIDENT_CONFIG"
CHANNELS = ("webhook", "mail")


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or paths.var_dir() / "incident.yml")


@dataclass(frozen=True)
class Webhook:
    url: str
    token_file: Path | None = None
    timeout: float = 5.0


@dataclass(frozen=True)
class Mail:
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    starttls: bool = False
    username: str | None = None
    password_file: Path | None = None
    timeout: float = 10.0


@dataclass(frozen=True)
class Settings:
    organization: str = "hospital"
    timezone: str = model.DEFAULT_TIMEZONE
    contacts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    agency_departments: tuple[model.Department, ...] = ()
    remind_before: timedelta = timedelta(minutes=10)
    webhook: Webhook | None = None
    mail: Mail | None = None
    path: Path | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c for c in CHANNELS if getattr(self, c) is not None)


def _secret_file(value: Any, where: str) -> Path:
    path = Path(str(value)).expanduser()
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        raise UserError(f"{where}: {path} does not exist") from None
    if mode not in (0o600, 0o400):
        raise UserError(f"{where}: {path} has mode {mode:04o}; it holds a secret: run `chmod 600 {path}`")
    return path


def read_secret(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def load_settings(path: str | Path | None = None) -> Settings:
    """The settings from `path` (default: default_config_path()); a missing default file is fine."""
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    config_path = Path(path) if path is not None else default_config_path()
    if not config_path.exists():
        if explicit:
            raise UserError(f"incident settings file {config_path} does not exist")
        return Settings()
    try:
        data = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise UserError(f"incident settings file {config_path} is not readable YAML: {err}") from None
    if not isinstance(data, dict):
        raise UserError(
            f"incident settings file {config_path} must be a mapping (organization, contacts, ...)"
        )
    where = str(config_path)
    unknown = sorted(set(data) - {"organization", "timezone", "contacts", "agency_departments", "notify"})
    if unknown:
        raise UserError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    org = data.get("organization", "hospital")
    if org not in model.ORGS:
        raise UserError(f"{where}: organization must be hospital or agency, not {org!r}")
    tz = str(data.get("timezone", model.DEFAULT_TIMEZONE))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"{where}: timezone {tz!r} is not a known zone (e.g. Asia/Shanghai)") from None
    contacts_raw = data.get("contacts") or {}
    if not isinstance(contacts_raw, dict):
        raise UserError(f"{where}: contacts must map a role to a list of people")
    contacts: dict[str, tuple[str, ...]] = {}
    for role, people in contacts_raw.items():
        if role not in model.ROLES:
            raise UserError(f"{where}: contacts: unknown role {role!r}; roles: {', '.join(model.ROLES)}")
        people = [people] if isinstance(people, str) else people
        if not isinstance(people, list) or not all(isinstance(p, str) for p in people):
            raise UserError(f"{where}: contacts.{role} must be a list of strings")
        contacts[role] = tuple(people)
    departments = []
    for index, item in enumerate(data.get("agency_departments") or []):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise UserError(f"{where}: agency_departments[{index}] needs a key (and zh, en names)")
        departments.append(model.agency_department(item["key"], item.get("zh"), item.get("en")))
    notify = data.get("notify") or {}
    if not isinstance(notify, dict):
        raise UserError(f"{where}: notify must be a mapping (remind_before, webhook, mail)")
    try:
        remind = timedelta(minutes=float(notify.get("remind_before", 10)))
    except (TypeError, ValueError):
        raise UserError(f"{where}: notify.remind_before must be a number of minutes") from None
    return Settings(
        organization=org,
        timezone=tz,
        contacts=contacts,
        agency_departments=tuple(departments),
        remind_before=remind,
        webhook=_webhook(notify.get("webhook"), where),
        mail=_mail(notify.get("mail"), where),
        path=config_path,
    )


def _webhook(raw: Any, where: str) -> Webhook | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        raise UserError(f"{where}: notify.webhook needs a url")
    url = urlparse(raw["url"])
    if url.scheme not in ("http", "https") or not url.hostname:
        raise UserError(f"{where}: notify.webhook.url must be an http:// or https:// URL")
    token = (
        _secret_file(raw["token_file"], f"{where}: notify.webhook.token_file")
        if raw.get("token_file")
        else None
    )
    return Webhook(raw["url"], token, float(raw.get("timeout", 5)))


def _mail(raw: Any, where: str) -> Mail | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw.get("host") or not raw.get("sender") or not raw.get("to"):
        raise UserError(f"{where}: notify.mail needs host, sender and to")
    to = [raw["to"]] if isinstance(raw["to"], str) else raw["to"]
    if "password" in raw:
        raise UserError(
            f"{where}: notify.mail.password is not accepted (a secret in a settings file); "
            "put it in a 0600 file and name it in notify.mail.password_file"
        )
    password = (
        _secret_file(raw["password_file"], f"{where}: notify.mail.password_file")
        if raw.get("password_file")
        else None
    )
    try:
        port = int(raw.get("port", 25))
    except (TypeError, ValueError):
        raise UserError(f"{where}: notify.mail.port must be a number") from None
    return Mail(
        str(raw["host"]),
        port,
        str(raw["sender"]),
        tuple(str(t) for t in to),
        bool(raw.get("starttls", False)),
        raw.get("username"),
        password,
        float(raw.get("timeout", 10)),
    )


# ------------------------------------------------------------------------------------------ reminders
@dataclass(frozen=True)
class Reminder:
    key: str  # opened | paper-30min | ... | review
    due: datetime
    title: dict[str, str]
    article: str
    departments: tuple[str, ...]
    tell: tuple[str, ...]
    overdue: bool


def due_reminders(assessment: model.Assessment, remind_before: timedelta) -> list[Reminder]:
    """The reminders that should have gone out by assessment.now: a class-1 or class-2 opening at
    once (P3.3 / P3.5.1), then each deadline `remind_before` ahead of it, unless it is already met."""
    inc, now = assessment.incident, assessment.now
    result = []
    if inc.cls in ("1", "2"):
        esc = assessment.escalation
        result.append(
            Reminder(
                "opened",
                inc.opened,
                {
                    "zh": f"{model.CLASS_TEXT[inc.cls]['zh']}：{inc.summary}（{esc.rule['zh']}）",
                    "en": f"{model.CLASS_TEXT[inc.cls]['en']} fault: {inc.summary} ({esc.rule['en']})",
                },
                esc.article,
                (),
                esc.report_to,
                False,
            )
        )
    for state in assessment.deadlines:
        if state.state not in ("pending", "due"):
            continue
        dl = state.deadline
        if now < dl.due - remind_before:
            continue
        result.append(Reminder(dl.key, dl.due, dl.title, dl.article, state.missing, dl.tell, now >= dl.due))
    return result


def payload(inc: model.Incident, reminder: Reminder, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "source": "hisguard",
        "incident": inc.id,
        "drill": inc.drill,
        "organization": inc.org,
        "class": inc.cls,
        "summary": inc.summary,
        "opened": model.iso(inc.opened),
        "deadline": reminder.key,
        "due": model.iso(reminder.due),
        "due_local": model.local_time(reminder.due, tz),
        "overdue": reminder.overdue,
        "title": reminder.title,
        "article": reminder.article,
        "departments": list(reminder.departments),
        "tell": list(reminder.tell),
        "text": _text(inc, reminder, tz, "zh"),
        "text_en": _text(inc, reminder, tz, "en"),
    }


def _text(inc: model.Incident, reminder: Reminder, tz: ZoneInfo, lang: str) -> str:
    drill = ("【演练】" if lang == "zh" else "[DRILL] ") if inc.drill else ""
    due = model.local_time(reminder.due, tz)
    if lang == "zh":
        when = "已到期" if reminder.overdue else "到期"
        head = f"{drill}{inc.id} {model.CLASS_TEXT[inc.cls]['zh']}：{inc.summary}"
        return f"{head}\n{reminder.title['zh']}\n{when}：{due}（{reminder.article}）"
    when = "overdue since" if reminder.overdue else "due"
    head = f"{drill}{inc.id} {model.CLASS_TEXT[inc.cls]['en']}: {inc.summary}"
    return f"{head}\n{reminder.title['en']}\n{when} {due} ({reminder.article})"


def send_webhook(hook: Webhook, body: dict[str, Any]) -> None:
    """POST the JSON body; raises OSError (with a message, never the token) when it fails."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(hook.url, data=data, method="POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    if hook.token_file is not None:
        request.add_header("Authorization", f"Bearer {read_secret(hook.token_file)}")
    try:
        with urllib.request.urlopen(request, timeout=hook.timeout) as response:
            if not 200 <= response.status < 300:
                raise OSError(f"webhook {hook.url} answered HTTP {response.status}")
    except urllib.error.HTTPError as err:
        raise OSError(f"webhook {hook.url} answered HTTP {err.code}") from None
    except (urllib.error.URLError, TimeoutError) as err:
        reason = getattr(err, "reason", err)
        raise OSError(f"webhook {hook.url} not reachable: {reason}") from None


def send_mail(mail: Mail, body: dict[str, Any]) -> None:
    """Send the reminder by SMTP; raises OSError (never with the password) when it fails."""
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = ", ".join(mail.to)
    msg["Subject"] = f"[hisguard] {body['incident']} {body['deadline']}: {body['title']['zh']}"[:200]
    msg.set_content(
        f"{body['text']}\n\n{body['text_en']}\n\n" + json.dumps(body, ensure_ascii=False, indent=2)
    )
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout) as smtp:
            if mail.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if mail.username and mail.password_file:
                smtp.login(mail.username, read_secret(mail.password_file))
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as err:
        text = str(err).replace(read_secret(mail.password_file), "***") if mail.password_file else str(err)
        raise OSError(f"mail via {mail.host}:{mail.port} failed: {text}") from None


@dataclass
class Sent:
    key: str
    channel: str
    ok: bool
    error: str | None = None


def notify(
    store: Any,
    assessment: model.Assessment,
    settings: Settings,
    record: Callable[[dict[str, Any]], None],
    senders: dict[str, Callable[[Any, dict[str, Any]], None]] | None = None,
) -> list[Sent]:
    """Send every due reminder not sent yet on every configured channel; `record(detail)` writes an
    incident.notify entry to the timeline for each attempt. Returns the attempts made."""
    senders = senders or {"webhook": send_webhook, "mail": send_mail}
    attempts: list[Sent] = []
    if not settings.channels:
        return attempts
    inc = assessment.incident
    for reminder in due_reminders(assessment, settings.remind_before):
        body = payload(inc, reminder, settings.tz)
        for channel in settings.channels:
            if not store.claim_notification(inc.id, reminder.key, channel):
                continue
            try:
                senders[channel](getattr(settings, channel), body)
            except OSError as err:
                store.finish_notification(inc.id, reminder.key, channel, False, str(err))
                attempts.append(Sent(reminder.key, channel, False, str(err)))
            else:
                store.finish_notification(inc.id, reminder.key, channel, True)
                attempts.append(Sent(reminder.key, channel, True))
            record(
                {
                    "deadline": reminder.key,
                    "channel": channel,
                    "ok": attempts[-1].ok,
                    "error": attempts[-1].error,
                    "due": model.iso(reminder.due),
                }
            )
    return attempts


# -------------------------------------------------------------------------- local receiver (lab, tests)
class LocalReceiver:
    """A webhook (HTTP POST) and SMTP receiver on 127.0.0.1 that keeps what it receives.

    with LocalReceiver() as rx: rx.webhook_url, rx.smtp_port; rx.posts (JSON bodies, with
    `_authorization` set to the Authorization header), rx.mails (email.message.EmailMessage).
    A `log` path gets one JSON line per message received (for a receiver run as a process).
    """

    def __init__(self, http_port: int = 0, smtp_port: int = 0, log: Path | None = None, fail_http: int = 0):
        self.posts: list[dict[str, Any]] = []
        self.mails: list[EmailMessage] = []
        self.log = log
        self.fail_http = fail_http  # answer this HTTP status instead of 200 (tests of failures)
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", http_port), self._http_handler())
        self._smtp = _SMTPServer(("127.0.0.1", smtp_port), self)
        self._threads: list[threading.Thread] = []

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/hisguard"

    @property
    def http_port(self) -> int:
        return self._http.server_address[1]

    @property
    def smtp_port(self) -> int:
        return self._smtp.server_address[1]

    def _keep(self, kind: str, item: Any, line: dict[str, Any]) -> None:
        with self._lock:
            (self.posts if kind == "post" else self.mails).append(item)
            if self.log is not None:
                with open(self.log, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"kind": kind, **line}, ensure_ascii=False) + "\n")

    def _http_handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", errors="replace")}
                if receiver.fail_http:
                    self.send_response(receiver.fail_http)
                    self.end_headers()
                    return
                body["_authorization"] = self.headers.get("Authorization")
                body["_path"] = self.path
                receiver._keep("post", body, {"body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # keep the test output clean
                return

        return Handler

    def start(self) -> LocalReceiver:
        for server in (self._http, self._smtp):
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._http, self._smtp):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> LocalReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _SMTPServer(socketserver.ThreadingTCPServer):
    """Just enough SMTP (RFC 5321 without extensions) for smtplib to deliver a message."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address, receiver: LocalReceiver):
        self.receiver = receiver
        super().__init__(address, _SMTPHandler)


class _SMTPHandler(socketserver.StreamRequestHandler):
    timeout = 10

    def _reply(self, text: str) -> None:
        self.wfile.write((text + "\r\n").encode("ascii"))
        self.wfile.flush()

    def _auth(self, command: str) -> str:
        """The user name of an AUTH PLAIN / LOGIN exchange (the password is read and dropped)."""
        parts = command.split()
        if len(parts) >= 2 and parts[1].upper() == "PLAIN":
            if len(parts) == 2:
                self._reply("334 ")
                parts.append(self.rfile.readline(4096).decode("ascii").strip())
            fields = base64.b64decode(parts[2]).split(b"\0")
            return fields[1].decode("utf-8", errors="replace") if len(fields) > 1 else ""
        self._reply("334 VXNlcm5hbWU6")  # "Username:"
        user = base64.b64decode(self.rfile.readline(4096).strip()).decode("utf-8", errors="replace")
        self._reply("334 UGFzc3dvcmQ6")  # "Password:"
        self.rfile.readline(4096)
        return user

    def handle(self) -> None:
        self.logins: list[str] = []
        self._reply("220 hisguard-test-smtp ready")
        sender, recipients = None, []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            command = line.decode("ascii", errors="replace").strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                self._reply("250-hisguard-test-smtp")
                self._reply("250 AUTH PLAIN LOGIN")
            elif verb == "HELO":
                self._reply("250 hisguard-test-smtp")
            elif verb == "AUTH":
                self.logins.append(self._auth(command))
                self._reply("235 2.7.0 authentication successful")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip(), []
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip())
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 end with <CRLF>.<CRLF>")
                data = bytearray()
                while True:
                    chunk = self.rfile.readline(65536)
                    if not chunk or chunk in (b".\r\n", b".\n"):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                message = BytesParser(policy=default_policy).parsebytes(bytes(data))
                self.server.receiver._keep(
                    "mail",
                    message,
                    {
                        "from": sender,
                        "to": recipients,
                        "subject": str(message["Subject"]),
                        "logins": self.logins,
                    },
                )
                self._reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 command not implemented")


def main(argv: list[str] | None = None) -> int:
    """`python -m hisguard.notify --http-port 8099 --smtp-port 2525 --log FILE`: run the local receiver
    (127.0.0.1 only) in the foreground, e.g. to watch the lab's reminders; Ctrl-C stops it."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m hisguard.notify", description=main.__doc__)
    parser.add_argument("--http-port", type=int, default=8099)
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--log", type=Path, help="append what arrives as JSON lines to this file")
    args = parser.parse_args(argv)
    try:
        receiver = LocalReceiver(args.http_port, args.smtp_port, args.log)
    except OSError as err:
        print(f"cannot listen on 127.0.0.1: {err}", file=sys.stderr)
        return 2
    with receiver:
        print(f"webhook: {receiver.webhook_url}  smtp: 127.0.0.1:{receiver.smtp_port}", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
