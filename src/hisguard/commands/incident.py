"""`hisguard incident ...`: the fault-emergency procedure for the on-call person (Parts 3 and 4).

incident open --class 1 --summary "..."      (or --symptom ... [--scope ...] to classify)
incident status                              what to do now: deadlines, who to tell, paper
incident log "..."                           a note in the timeline
incident mark told|paper|resumed|reentered-key|reentered-all [ITEM...]
incident run diagnose|failover-uplink|replace-switch|restart-service|restore ...
incident classify CLASS                      correct the class
incident resolve [--summary ...]             service is back; re-entry and review deadlines start
incident review --root-cause ... --prevention ...
incident report [--lang zh|en] [--format html|json]
incident notify                              send due deadline reminders (for a timer)
incident list
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hisguard import incident as model
from hisguard import incident_timeline as tl
from hisguard import notify, recovery
from hisguard.errors import UserError
from hisguard.progress import Progress
from hisguard.store import Store

LANGS = ("zh", "en")
MARKS = ("told", "paper", "resumed", "reentered-key", "reentered-all")

S = {
    "zh": {
        "incident": "故障",
        "drill": "【演练】",
        "summary": "摘要",
        "opened": "开始",
        "lasting": "已持续",
        "outage": "中断时长",
        "phase.open": "处置中",
        "phase.resolved": "已恢复",
        "resolved": "恢复",
        "state": "状态",
        "escalation": "上报",
        "handler": "处理",
        "tell_now": "现在必须通知",
        "nobody": "（无）",
        "contacts": "联系人",
        "no_contacts": "联系人未配置（incident.yml contacts）",
        "paper_now": "现在必须转入手工操作的部门",
        "noticed": "已通知",
        "not_noticed": "未通知",
        "coordinator": "协调",
        "next_deadline": "下一时限",
        "in": "还有",
        "deadlines": "时限",
        "no_deadlines": "本等级故障没有时限",
        "state.pending": "未到",
        "state.due": "已到期，未完成",
        "state.done": "已完成",
        "state.moot": "已恢复，不适用",
        "missing": "未完成",
        "next_steps": "下一步",
        "warnings": "注意",
        "problems": "时间线问题",
        "notified": "提醒已发送",
        "notify_failed": "提醒发送失败",
        "opened_msg": "已开启故障",
        "class_from": "由症状判定",
        "logged": "已记录",
        "resolved_msg": "已登记恢复",
        "report_written": "报告",
        "no_incident": "当前没有故障。",
        "step_start": "开始执行",
        "step_done": "完成",
        "step_failed": "失败",
        "seconds": "秒",
        "not_recorded": "没有开启的故障：本次诊断不记入时间线",
    },
    "en": {
        "incident": "Incident",
        "drill": "[DRILL] ",
        "summary": "Summary",
        "opened": "Opened",
        "lasting": "lasting",
        "outage": "outage",
        "phase.open": "open",
        "phase.resolved": "recovered",
        "resolved": "Recovered",
        "state": "State",
        "escalation": "Escalation",
        "handler": "Handled by",
        "tell_now": "Tell now",
        "nobody": "(nobody)",
        "contacts": "contacts",
        "no_contacts": "no contacts configured (incident.yml contacts)",
        "paper_now": "Departments that must be on paper now",
        "noticed": "told",
        "not_noticed": "NOT TOLD",
        "coordinator": "coordinated by",
        "next_deadline": "Next deadline",
        "in": "in",
        "deadlines": "Deadlines",
        "no_deadlines": "no deadlines for this class",
        "state.pending": "pending",
        "state.due": "DUE, not met",
        "state.done": "met",
        "state.moot": "recovered before",
        "missing": "missing",
        "next_steps": "Next steps",
        "warnings": "Warnings",
        "problems": "Timeline problems",
        "notified": "reminder sent",
        "notify_failed": "reminder failed",
        "opened_msg": "opened incident",
        "class_from": "classified from symptoms",
        "logged": "logged",
        "resolved_msg": "recorded recovery of",
        "report_written": "report",
        "no_incident": "No incident.",
        "step_start": "running",
        "step_done": "done",
        "step_failed": "FAILED",
        "seconds": "s",
        "not_recorded": "no incident is open: this diagnosis is not recorded in any timeline",
    },
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("incident", help="the fault-emergency procedure: open, status, run steps, report")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def add(name: str, help_text: str, func, with_id: bool = True) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help_text)
        p.add_argument(
            "--config", help="incident settings (default: $HISGUARD_INCIDENT_CONFIG or var/incident.yml)"
        )
        p.add_argument("--actor", help="who is acting (default: $HISGUARD_ACTOR, the sudo user or the login)")
        if with_id:
            p.add_argument(
                "--id", dest="incident_id", help="incident id (default: the open one, else the newest)"
            )
        p.set_defaults(func=func)
        return p

    p = add("open", "open an incident (it becomes the current one)", _open, with_id=False)
    p.add_argument("--class", dest="cls", choices=model.CLASSES, help="fault class (P3.4/P4.4)")
    p.add_argument(
        "--symptom",
        action="append",
        default=[],
        help="a symptom (repeatable), its key or the regulation's Chinese wording; classifies the fault "
        "when --class is not given: " + ", ".join(s.key for s in model.SYMPTOMS),
    )
    p.add_argument("--scope", choices=model.SCOPES, help="how far a reported symptom reaches")
    p.add_argument("--summary", required=True, help="what happened, in a sentence")
    p.add_argument(
        "--org", choices=model.ORGS, help="hospital (Part 3) or agency (Part 4); default from settings"
    )
    p.add_argument("--lang", choices=LANGS, default="zh")

    p = add("status", "what to do now: elapsed, deadlines, who to tell, departments on paper", _status)
    p.add_argument("--lang", choices=LANGS, default="zh")
    p.add_argument("--json", action="store_true", help="machine-readable")
    p.add_argument("--no-notify", action="store_true", help="do not send due reminders")

    p = add("log", "add a note to the timeline", _log)
    p.add_argument("message")

    p = add("mark", "record that something was done (told, paper, resumed, re-entered)", _mark)
    p.add_argument("what", choices=MARKS)
    p.add_argument(
        "items", nargs="*", metavar="ITEM", help="roles (told) or departments (paper, reentered-*)"
    )
    p.add_argument("--due", action="store_true", help="every role/department that is due now")
    p.add_argument("--lang", choices=LANGS, default="zh")

    p = add("classify", "change the incident's class", _classify)
    p.add_argument("cls", choices=model.CLASSES, metavar="CLASS")
    p.add_argument("--reason", default="", help="why")

    p = add("run", "run a recovery step and record it", _run)
    p.add_argument("step", choices=recovery.STEPS)
    p.add_argument("-i", "--inventory", help="inventory (default: the lab's)")
    p.add_argument("--limit", help="diagnose: only these hosts")
    p.add_argument("--device", help="failover-uplink: the switch")
    p.add_argument("--back", action="store_true", help="failover-uplink: fail back to the primary fibre")
    p.add_argument("--failed", help="replace-switch: the failed switch")
    p.add_argument("--spare", help="replace-switch: the spare switch")
    p.add_argument("--host", help="restart-service, restore: the host")
    p.add_argument("--service", help="restart-service: the systemd unit")
    p.add_argument("--apply", action="store_true", help="failover/restore: apply (default: dry run)")
    p.add_argument("--confirm", metavar="HOST", help="restore: the host's name again, to confirm --apply")
    p.add_argument("--dry-run", action="store_true", help="restart-service: only show the current state")
    p.add_argument(
        "-e",
        "--extra-var",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="restore: playbook variables",
    )
    p.add_argument("--lang", choices=LANGS, default="zh")

    p = add("resolve", "service is back: start the re-entry and review deadlines", _resolve)
    p.add_argument("--summary", default="", help="how it was recovered")
    p.add_argument("--root-cause", default="")
    p.add_argument("--prevention", default="")

    p = add("review", "record the technical review: root cause and prevention (P3.7.6)", _review)
    p.add_argument("--root-cause", required=True)
    p.add_argument("--prevention", required=True)
    p.add_argument("--participants", default="", help="who took part")

    p = add("report", "write the incident report (timeline, actions, cause, re-entry checklist)", _report)
    p.add_argument("--lang", choices=LANGS, default="zh")
    p.add_argument("--format", choices=("html", "json"), default="html")
    p.add_argument("--output", help="file to write, or - for stdout (default: var/incidents/<id>/)")

    add("notify", "send due deadline reminders (webhook/mail), each once; for a timer", _notify)
    add("list", "list incidents, newest first", _list, with_id=False)


# ----------------------------------------------------------------------------------------- helpers
def _settings(args: argparse.Namespace) -> notify.Settings:
    return notify.load_settings(args.config)


def _now() -> datetime:
    return datetime.now(UTC)


def _out(text: str = "") -> None:
    print(text, flush=True)


def _assess(loaded: tl.Loaded, settings: notify.Settings) -> model.Assessment:
    return model.assess(loaded.incident, _now(), settings.tz, settings.agency_departments)


def _dept_name(key: str, lang: str, settings: notify.Settings) -> str:
    if key in model.DEPARTMENTS:
        return model.DEPARTMENTS[key].text(lang)
    for d in settings.agency_departments or (model.AGENCY_DEFAULT,):
        if d.key == key:
            return d.text(lang)
    return key


def _role(key: str, lang: str, org: str) -> str:
    return model.ROLES[key].text(lang, org) if key in model.ROLES else key


def _record(store: Store, incident_id: str, action: str, detail: dict[str, Any], args) -> model.Entry:
    return tl.record(store, incident_id, action, detail, getattr(args, "actor", None))


# -------------------------------------------------------------------------------------------- open
def _open(args: argparse.Namespace) -> int:
    settings = _settings(args)
    org = args.org or settings.organization
    summary = args.summary.strip()
    if not summary:
        raise UserError("--summary is empty: say in a sentence what happened")
    try:
        classification = model.classify(args.symptom, org, args.scope)
        cls = model.check_class(args.cls, org) if args.cls else classification.cls
    except model.IncidentModelError as err:
        raise UserError(str(err)) from None
    if cls is None:
        if classification.undecided:
            raise UserError(
                f"the symptom(s) {', '.join(classification.undecided)} do not decide the class alone: "
                "give --scope single|department|several|all (how far it reaches) or --class"
            )
        raise UserError("give --class 1|2|3|other, or --symptom (e.g. --symptom server-down) to classify")
    detail = {
        "org": org,
        "class": cls,
        "summary": summary,
        "symptoms": [b.symptom for b in classification.basis] + list(classification.undecided),
        "scope": args.scope,
        "basis": [{"symptom": b.symptom, "class": b.cls, "via": b.via} for b in classification.basis],
        "suggested_class": classification.cls if classification.cls not in (None, cls) else None,
        "declared": bool(args.cls),
    }
    with Store() as store:
        incident_id = tl.open_incident(store, detail, drill=False, actor=args.actor)
        loaded = tl.load(store, incident_id)
    t = S[args.lang]
    _out(f"{t['opened_msg']} {incident_id} ({model.tr(model.CLASS_TEXT[cls], args.lang)})")
    if not args.cls:
        _out(f"  {t['class_from']}: " + ", ".join(f"{b.symptom}→{b.cls}" for b in classification.basis))
    _print_status(loaded, settings, args.lang)
    return 0


# ------------------------------------------------------------------------------------------ status
def _status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with Store() as store:
        ids = tl.known_ids(store)
        if not args.incident_id and not tl.current_id() and not ids:
            if args.json:
                _out(json.dumps({"incident": None}))
            else:
                _out(S[args.lang]["no_incident"])
            return 0
        incident_id = tl.pick(store, args.incident_id)
        loaded = tl.load(store, incident_id)
        sent: list[notify.Sent] = []
        if settings.channels and not args.no_notify:
            sent = _send(store, loaded, settings, args)
            if sent:
                loaded = tl.load(store, incident_id)
    if args.json:
        _out(json.dumps(status_json(loaded, settings), ensure_ascii=False, indent=2))
        return 0
    _print_status(loaded, settings, args.lang)
    t = S[args.lang]
    for s in sent:
        _out(
            f"{t['notified'] if s.ok else t['notify_failed']}: {s.key} → {s.channel}"
            + (f" ({s.error})" if s.error else "")
        )
    return 0


def status_json(loaded: tl.Loaded, settings: notify.Settings) -> dict[str, Any]:
    a = _assess(loaded, settings)
    inc = a.incident
    return {
        "incident": inc.id,
        "drill": inc.drill,
        "organization": inc.org,
        "class": inc.cls,
        "summary": inc.summary,
        "phase": inc.phase,
        "opened": model.iso(inc.opened),
        "resolved": model.iso(inc.resolved) if inc.resolved else None,
        "elapsed_seconds": int(a.elapsed.total_seconds()),
        "outage_seconds": int(a.outage.total_seconds()),
        "escalation": {"reporter": a.escalation.reporter, "report_to": list(a.escalation.report_to)},
        "tell_now": [{"role": o.role, "article": o.article, "why": o.why} for o in a.tell_now],
        "paper_now": list(a.paper_now),
        "paper_not_noticed": list(a.paper_not_noticed),
        "next_deadline": _deadline_json(a.next_deadline) if a.next_deadline else None,
        "deadlines": [_deadline_json(s) for s in a.deadlines],
        "next_steps": [{"text": s.text, "command": s.command, "article": s.article} for s in a.steps],
        "warnings": list(a.warnings),
        "problems": loaded.problems,
    }


def _deadline_json(s: model.DeadlineState) -> dict[str, Any]:
    return {
        "key": s.deadline.key,
        "due": model.iso(s.deadline.due),
        "state": s.state,
        "article": s.deadline.article,
        "title": s.deadline.title,
        "departments": list(s.deadline.departments),
        "missing": list(s.missing),
    }


def _print_status(loaded: tl.Loaded, settings: notify.Settings, lang: str) -> None:
    t = S[lang]
    a = _assess(loaded, settings)
    inc, tz = a.incident, settings.tz
    org_text = {
        "hospital": {"zh": "医院", "en": "hospital"},
        "agency": {"zh": "卫生行政部门/公共卫生机构", "en": "agency"},
    }
    _out(
        f"{t['drill'] if inc.drill else ''}{t['incident']} {inc.id}  "
        f"{model.tr(model.CLASS_TEXT[inc.cls], lang)} ({model.tr(org_text[inc.org], lang)})"
    )
    _out(f"{t['summary']}: {inc.summary}")
    line = f"{t['opened']}: {model.local_time(inc.opened, tz)}"
    if inc.resolved is None:
        line += f"  ({t['lasting']} {model.duration(a.elapsed, lang)})  {t['state']}: {t['phase.open']}"
    else:
        line += (
            f"  {t['resolved']}: {model.local_time(inc.resolved, tz)}  ({t['outage']} "
            f"{model.duration(a.outage, lang)})  {t['state']}: {t['phase.resolved']}"
        )
    _out(line)
    esc = a.escalation
    reporter = _role(esc.reporter, lang, inc.org)
    to = (
        "、".join(_role(r, lang, inc.org) for r in esc.report_to)
        if lang == "zh"
        else ", ".join(_role(r, lang, inc.org) for r in esc.report_to)
    )
    handler = model.tr(esc.handler, lang)
    _out(
        f"{t['escalation']}: {reporter}{' → ' + to if to else ''}; {t['handler']}: {handler} ({esc.article})"
    )
    _out()
    _out(f"{t['tell_now']}:")
    if not a.tell_now:
        _out(f"  {t['nobody']}")
    for o in a.tell_now:
        people = settings.contacts.get(o.role)
        _out(f"  - {_role(o.role, lang, inc.org)}: {model.tr(o.why, lang)} ({o.article})")
        _out(f"      {t['contacts']}: {'; '.join(people)}" if people else f"      {t['no_contacts']}")
    if a.paper_now:
        _out(f"{t['paper_now']} (P3.5.2):")
        for key in a.paper_now:
            dept = model.DEPARTMENTS.get(key)
            coord = "、".join(_role(r, lang, inc.org) for r in dept.coordinator) if dept else ""
            mark = (
                f"{t['noticed']} {model.local_time(inc.paper[key], tz)}"
                if key in inc.paper
                else t["not_noticed"]
            )
            _out(f"  - {_dept_name(key, lang, settings)} ({t['coordinator']}: {coord}) [{mark}]")
            if dept:
                _out(f"      {model.tr(dept.on_paper, lang)}")
    if a.next_deadline:
        dl = a.next_deadline.deadline
        left = model.duration(dl.due - a.now, lang)
        _out(
            f"{t['next_deadline']}: {model.local_time(dl.due, tz)} ({t['in']} {left}) "
            f"{model.tr(dl.title, lang)} ({dl.article})"
        )
    _out(f"{t['deadlines']}:")
    if not a.deadlines:
        _out(f"  {t['no_deadlines']}")
    for s in a.deadlines:
        missing = ""
        shown = s.state == "due" or (s.state == "pending" and s.deadline.key.startswith("reentry"))
        if s.missing and shown and s.deadline.key != "review":
            missing = f"  {t['missing']}: " + ", ".join(_dept_name(m, lang, settings) for m in s.missing)
        title = model.tr(s.deadline.title, lang)
        _out(
            f"  [{t['state.' + s.state]}] {model.local_time(s.deadline.due, tz)}  {title}"
            f" ({s.deadline.article}){missing}"
        )
    _out()
    _out(f"{t['next_steps']}:")
    for number, step in enumerate(a.steps, start=1):
        _out(f"  {number}. {model.tr(step.text, lang)}" + (f" ({step.article})" if step.article else ""))
        if step.command:
            _out(f"     $ {step.command}")
    if a.warnings:
        _out(f"{t['warnings']}:")
        for w in a.warnings:
            _out(f"  ! {model.tr(w, lang)}")
    if loaded.problems:
        _out(f"{t['problems']}:")
        for p in loaded.problems:
            _out(f"  ! {p}")


# ------------------------------------------------------------------------------------------ simple
def _current_or_pick(store: Store, args) -> str:
    return tl.pick(store, args.incident_id)


def _log(args: argparse.Namespace) -> int:
    message = args.message.strip()
    if not message:
        raise UserError('the note is empty: `hisguard incident log "what happened"`')
    with Store() as store:
        incident_id = _current_or_pick(store, args)
        _record(store, incident_id, "incident.log", {"message": message}, args)
    _out(f"{S['zh']['logged']} / logged: {incident_id}")
    return 0


def _mark(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with Store() as store:
        incident_id = _current_or_pick(store, args)
        loaded = tl.load(store, incident_id)
        inc = loaded.incident
        a = _assess(loaded, settings)
        items = list(dict.fromkeys(args.items))
        if args.what == "resumed":
            if items or args.due:
                raise UserError(
                    "`mark resumed` takes no items: it records the resume notice to every department"
                )
            if inc.resolved is None:
                raise UserError("the incident is not resolved yet: `hisguard incident resolve` first")
        elif args.due:
            if args.what == "told":
                items += [o.role for o in a.tell_now if o.role not in items]
            elif args.what == "paper":
                items += [d for d in a.paper_not_noticed if d not in items]
            else:
                key = "reentry-key" if args.what == "reentered-key" else "reentry-all"
                for s in a.deadlines:
                    if s.deadline.key == key:
                        items += [m for m in s.missing if m not in items]
            if not items:
                _out("nothing is due / 当前没有需要登记的项")
                return 0
        elif not items:
            raise UserError(f"name what to mark (`hisguard incident mark {args.what} ITEM...`) or give --due")
        if args.what == "told":
            unknown = [i for i in items if i not in model.ROLES]
            if unknown:
                raise UserError(f"unknown role(s) {', '.join(unknown)}; roles: {', '.join(model.ROLES)}")
        elif args.what != "resumed":
            known = [d.key for d in model.departments_for(inc.org, settings.agency_departments)]
            unknown = [i for i in items if i not in known]
            if unknown:
                raise UserError(
                    f"unknown department(s) {', '.join(unknown)}; departments: {', '.join(known)}"
                )
            if args.what.startswith("reentered") and inc.resolved is None:
                raise UserError("data is re-entered after recovery: `hisguard incident resolve` first")
        _record(store, incident_id, "incident.mark", {"what": args.what, "items": items}, args)
    _out(f"{incident_id}: {args.what} {' '.join(items)}".rstrip())
    return 0


def _classify(args: argparse.Namespace) -> int:
    with Store() as store:
        incident_id = _current_or_pick(store, args)
        inc = tl.load(store, incident_id).incident
        try:
            cls = model.check_class(args.cls, inc.org)
        except model.IncidentModelError as err:
            raise UserError(str(err)) from None
        _record(
            store,
            incident_id,
            "incident.classify",
            {"class": cls, "previous": inc.cls, "reason": args.reason},
            args,
        )
    _out(f"{incident_id}: class {inc.cls} -> {cls}")
    return 0


def _resolve(args: argparse.Namespace) -> int:
    with Store() as store:
        incident_id = _current_or_pick(store, args)
        inc = tl.load(store, incident_id).incident
        if inc.resolved is not None:
            raise UserError(f"incident {incident_id} was already resolved at {model.iso(inc.resolved)}")
        _record(store, incident_id, "incident.resolve", {"summary": args.summary.strip()}, args)
        if args.root_cause.strip() or args.prevention.strip():
            _record(
                store,
                incident_id,
                "incident.review",
                {"root_cause": args.root_cause.strip(), "prevention": args.prevention.strip()},
                args,
            )
        tl.close_current(incident_id)
        loaded = tl.load(store, incident_id)
    _out(f"{S['zh']['resolved_msg']} / {S['en']['resolved_msg']} {incident_id}")
    _print_status(loaded, _settings(args), "zh")
    return 0


def _review(args: argparse.Namespace) -> int:
    root, prevention = args.root_cause.strip(), args.prevention.strip()
    if not root or not prevention:
        raise UserError("both --root-cause and --prevention must say something (P3.7.6)")
    with Store() as store:
        incident_id = _current_or_pick(store, args)
        _record(
            store,
            incident_id,
            "incident.review",
            {"root_cause": root, "prevention": prevention, "participants": args.participants.strip()},
            args,
        )
    _out(f"{incident_id}: review recorded / 已登记技术研讨结论")
    return 0


def _list(args: argparse.Namespace) -> int:
    with Store() as store:
        ids = tl.known_ids(store)
        current = tl.current_id()
        _out(f"{'ID':<32}{'CLASS':<7}{'ORG':<10}{'OPENED (UTC)':<22}{'STATE':<10}SUMMARY")
        for incident_id in ids:
            try:
                inc = tl.load(store, incident_id).incident
            except UserError as err:
                _out(f"{incident_id:<32}? {err.message}")
                continue
            state = "open*" if incident_id == current else inc.phase
            _out(
                f"{incident_id:<32}{inc.cls:<7}{inc.org:<10}{inc.opened:%Y-%m-%d %H:%M:%S}  {state:<10}"
                f"{'[drill] ' if inc.drill else ''}{inc.summary}"
            )
    return 0


# ------------------------------------------------------------------------------------------ notify
def _send(store: Store, loaded: tl.Loaded, settings: notify.Settings, args) -> list[notify.Sent]:
    a = _assess(loaded, settings)
    return notify.notify(
        store,
        a,
        settings,
        lambda detail: tl.record(store, a.incident.id, "incident.notify", detail, "hisguard"),
    )


def _notify(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.channels:
        raise UserError(
            "no notification channel is configured: add notify.webhook and/or notify.mail to "
            f"{settings.path or notify.default_config_path()}"
        )
    with Store() as store:
        ids = [args.incident_id] if args.incident_id else _active_ids(store)
        failed = 0
        for incident_id in ids:
            loaded = tl.load(store, incident_id)
            for s in _send(store, loaded, settings, args):
                failed += not s.ok
                _out(
                    f"{incident_id} {s.key} -> {s.channel}: {'sent' if s.ok else 'FAILED ' + (s.error or '')}"
                )
    return 1 if failed else 0


def _active_ids(store: Store) -> list[str]:
    """The open incident and every resolved one whose post-recovery deadlines are still running."""
    ids = []
    current = tl.current_id()
    if current:
        ids.append(current)
    for row in store.incident_rows(limit=50):
        if row["id"] != current and row["resolved"]:
            resolved = model.parse_time(row["resolved"])
            if (_now() - resolved).total_seconds() < 3 * 86400:
                ids.append(row["id"])
    return ids


# -------------------------------------------------------------------------------------------- run
def _parse_extra(items: list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"-e {item!r}: write KEY=VALUE")
        result[key.strip()] = value
    return result


def _run(args: argparse.Namespace) -> int:
    t = S[args.lang]
    progress = Progress()
    with Store() as store:
        incident_id = args.incident_id or tl.current_id()
        if incident_id is None and args.step != "diagnose":
            raise UserError(
                "no incident is open: `hisguard incident open ...` first (or use `hisguard failover ...` "
                "directly, which records nothing here)"
            )
        if incident_id is not None:
            tl.check_id(incident_id)
            tl.load(store, incident_id)
        step_args = _step_args(args)
        if incident_id is None:
            _out(t["not_recorded"])
        else:
            shown = {k: v for k, v in step_args.items() if not k.startswith("_")}
            _record(store, incident_id, "incident.step", {"step": args.step, **shown}, args)
        shown = {k: v for k, v in step_args.items() if not k.startswith("_")}
        _out(f"{t['step_start']}: {args.step} {' '.join(f'{k}={v}' for k, v in shown.items())}".rstrip())
        try:
            result = run_step(
                args.step, step_args, incident_id, inventory=args.inventory, on_event=progress.event
            )
        except UserError as err:
            if incident_id is not None:
                failed = {"step": args.step, "ok": False, "outcome": "failed", "message": err.message}
                _record(store, incident_id, "incident.run", failed, args)
            raise
        if incident_id is not None:
            _record(store, incident_id, "incident.run", result.timeline_detail(), args)
    status = t["step_done"] if result.ok else t["step_failed"]
    _out(f"{args.step}: {status} ({result.outcome}, {result.seconds:.1f} {t['seconds']}) {result.message}")
    if result.run:
        _out(f"  run {result.run}: {result.artifacts}")
    if result.diagnosis is not None:
        _print_diagnosis(result, args.lang)
    if incident_id is not None:
        with Store() as store:
            _out()
            _print_status(tl.load(store, incident_id), _settings(args), args.lang)
    return 0 if result.ok else 1


def _step_args(args: argparse.Namespace) -> dict[str, Any]:
    step = args.step
    if step == "diagnose":
        return {"limit": args.limit} if args.limit else {}
    if step == "failover-uplink":
        if not args.device:
            raise UserError("failover-uplink needs --device SWITCH (e.g. --device core-sw-01)")
        return {"device": args.device, "back": args.back, "apply": args.apply}
    if step == "replace-switch":
        if not args.failed or not args.spare:
            raise UserError("replace-switch needs --failed SWITCH --spare SWITCH")
        return {"failed": args.failed, "spare": args.spare, "apply": args.apply}
    if step == "restart-service":
        if not args.host or not args.service:
            raise UserError(
                "restart-service needs --host HOST --service UNIT (e.g. --host srv-his --service postgresql)"
            )
        return {"host": args.host, "service": args.service, "apply": not args.dry_run}
    if not args.host:
        raise UserError("restore needs --host HOST (the host whose data is restored)")
    extra = _parse_extra(args.extra_var)
    if args.apply and args.confirm != args.host:
        raise UserError(
            f"a restore writes data on {args.host}: confirm it with --confirm {args.host} (nothing was "
            "restored); without --apply it is a dry run that shows what would be written"
        )
    return {
        "host": args.host,
        "apply": args.apply,
        "extravars": sorted(extra),
        "_extra": extra,
        "_confirm": args.confirm,
    }


def run_step(
    step: str, step_args: dict[str, Any], incident_id: str | None, inventory=None, on_event=None
) -> recovery.StepResult:
    """Run one recovery step (the CLI and the fault drill share this)."""
    if step == "diagnose":
        stamp = _now().strftime("%Y%m%dT%H%M%SZ")
        base = tl.incident_dir(incident_id) if incident_id else tl.incidents_dir() / "diagnose"
        output = base / f"diagnose-{stamp}.json"
        return recovery.diagnose(output, inventory=inventory, limit=step_args.get("limit"), on_event=on_event)
    if step == "failover-uplink":
        return recovery.failover_uplink(
            step_args["device"], step_args["apply"], step_args.get("back", False), inventory, on_event
        )
    if step == "replace-switch":
        return recovery.replace_switch(
            step_args["failed"], step_args["spare"], step_args["apply"], inventory, on_event
        )
    if step == "restart-service":
        return recovery.restart_service(
            step_args["host"], step_args["service"], step_args.get("apply", True), inventory, on_event
        )
    return recovery.restore(
        step_args["host"],
        step_args["apply"],
        step_args.get("_confirm"),
        step_args.get("_extra", {}),
        inventory,
        on_event,
    )


def _print_diagnosis(result: recovery.StepResult, lang: str) -> None:
    d = result.diagnosis
    bad = [c for c in d.checks if c.ok is False]
    if bad:
        _out("checks failed / 检查未通过:")
        for c in bad:
            _out(f"  x {c.host}: {c.item}: {c.observed}")
    if d.causes:
        _out("likely causes / 可能原因:")
        for number, c in enumerate(d.causes, start=1):
            _out(f"  {number}. [{c.score}] {c.title(lang)}")
            _out(f"     {c.suggestion(lang)}" + (f" ({c.article})" if c.article else ""))
            if c.command:
                _out(f"     $ {c.command}")
    for w in d.warnings:
        _out(f"  ! {model.tr(w, lang)}")


# ------------------------------------------------------------------------------------------ report
def _report(args: argparse.Namespace) -> int:
    from hisguard.report import incident as incident_report

    settings = _settings(args)
    with Store() as store:
        incident_id = _current_or_pick(store, args)
        loaded = tl.load(store, incident_id)
        text = incident_report.render(
            loaded,
            _assess(loaded, settings),
            settings,
            store.incident_notifications(incident_id),
            args.format,
            args.lang,
        )
        if args.output == "-":
            sys.stdout.write(text)
            return 0
        path = (
            Path(args.output)
            if args.output
            else tl.incident_dir(incident_id) / f"report.{args.lang}.{args.format}"
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as err:
            raise UserError(f"cannot write the report to {path}: {err}") from None
        _record(
            store,
            incident_id,
            "incident.report",
            {"format": args.format, "lang": args.lang, "path": str(path)},
            args,
        )
    _out(f"{S[args.lang]['report_written']}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m hisguard.commands.incident ...`: this command alone, as hisguard.cli runs it (for use
    before `incident` is listed in hisguard.cli.COMMAND_MODULES, and for tests)."""
    parser = argparse.ArgumentParser(prog="hisguard")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register(sub)
    from hisguard.commands import drill_fault

    drill_fault.register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"hisguard: error: {err.message}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("hisguard: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
