"""The incident report (故障排除报告, P3.7.6 / P3.8.4): timeline, recovery actions, root cause and
prevention, deadlines, the data re-entry checklist per department, and for drills (P3.9.2) the time
each step took. HTML (one self-contained file, zh-CN default, en) or JSON (schema hisguard.incident/1).

Its strings live in STRINGS below (both languages; add a key to both).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from hisguard import incident as model

SCHEMA = "hisguard.incident/1"

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "title": "信息系统故障排除报告",
        "title_drill": "应急预案演练报告",
        "regulation": "依据：信息系统故障处理应急预案（医院：第三部分；卫生行政部门和公共卫生机构：第四部分"
        "）",
        "incident": "故障编号",
        "drill": "演练",
        "scenario": "演练场景",
        "org": "单位类型",
        "org.hospital": "医院",
        "org.agency": "卫生行政部门/公共卫生机构",
        "class": "故障等级",
        "summary": "故障摘要",
        "opened": "发现/开启时间",
        "opened_by": "开启人",
        "resolved": "恢复时间",
        "outage": "中断时长",
        "not_resolved": "尚未恢复",
        "generated": "报告生成时间",
        "print": "打印",
        "toc": "目录",
        "sec.classification": "故障分级与上报",
        "sec.actions": "处置过程",
        "sec.drill": "演练计时",
        "sec.deadlines": "时限",
        "sec.reentry": "数据补录清单",
        "sec.cause": "原因分析与预防措施",
        "sec.timeline": "时间线",
        "sec.notifications": "通知记录",
        "sec.problems": "时间线核对问题",
        "symptoms": "症状",
        "basis": "分级依据",
        "rule": "处理原则",
        "reporter": "上报人",
        "report_to": "上报对象",
        "handler": "处理",
        "step": "步骤",
        "started": "开始",
        "seconds": "耗时（秒）",
        "outcome": "结果",
        "message": "说明",
        "run": "运行编号",
        "no_actions": "没有通过 hisguard 执行的恢复操作。",
        "deadline": "时限",
        "due": "到期时间",
        "state": "状态",
        "missing": "未完成",
        "state.pending": "未到",
        "state.due": "已到期，未完成",
        "state.done": "已完成",
        "state.moot": "到期前已恢复",
        "no_deadlines": "本等级故障没有规定时限。",
        "department": "部门",
        "coordinator": "协调",
        "on_paper": "转入手工操作",
        "reentry_key": "当日补录重要数据（截止 {due}）",
        "reentry_all": "次日完成全部补录（截止 {due}）",
        "done_at": "完成：{when}",
        "sign": "负责人签字",
        "reentry_note": "按 P3.7.4 / P4.7.4：系统恢复当日完成重要数据录入，第二天完成全部数据补录；信息中心"
        "技术组分片包干协助（P3.7.5）。",
        "reentry_na": "本等级故障未造成停机，无需补录。",
        "root_cause": "故障原因",
        "prevention": "预防措施",
        "participants": "技术研讨会参加人",
        "reviewed": "研讨时间",
        "to_fill": "（待技术研讨会填写）",
        "review_due": "按 P3.7.6 / P4.7.6：故障排除后2天内组织技术研讨会，分析原因、制定预防措施，完成故障"
        "排除报告院领导。",
        "signatures": "信息中心（科）主任：＿＿＿＿＿＿　　应急领导小组：＿＿＿＿＿＿　　日期：＿＿＿＿＿＿",
        "time": "时间",
        "actor": "操作人",
        "action": "事件",
        "detail": "内容",
        "channel": "渠道",
        "sent": "已发送",
        "failed": "失败",
        "attempts": "次数",
        "no_notifications": "没有发送提醒（未配置通知渠道，或尚无到期提醒）。",
        "total": "合计",
        "time_to_recovery": "从注入故障到恢复",
        "ok": "成功",
        "not_ok": "失败",
        "footer": "由 hisguard 生成。时间为 {tz} 时间；时间线以 UTC 存储（var/incidents/<编号"
        ">/timeline.jsonl，只追加）。",
        "phase.open": "处置中",
        "phase.resolved": "已恢复",
    },
    "en": {
        "html_lang": "en",
        "title": "Fault report",
        "title_drill": "Emergency-plan drill report",
        "regulation": "Against: the fault-emergency plan (hospitals: Part 3; health agencies: Part 4)",
        "incident": "Incident",
        "drill": "drill",
        "scenario": "Drill scenario",
        "org": "Organization",
        "org.hospital": "hospital",
        "org.agency": "health agency",
        "class": "Class",
        "summary": "Summary",
        "opened": "Opened",
        "opened_by": "Opened by",
        "resolved": "Recovered",
        "outage": "Outage",
        "not_resolved": "not recovered yet",
        "generated": "Report generated",
        "print": "Print",
        "toc": "Contents",
        "sec.classification": "Class and escalation",
        "sec.actions": "Recovery actions",
        "sec.drill": "Drill timings",
        "sec.deadlines": "Deadlines",
        "sec.reentry": "Data re-entry checklist",
        "sec.cause": "Root cause and prevention",
        "sec.timeline": "Timeline",
        "sec.notifications": "Reminders sent",
        "sec.problems": "Timeline reconciliation problems",
        "symptoms": "Symptoms",
        "basis": "Basis",
        "rule": "Rule",
        "reporter": "Reports",
        "report_to": "To",
        "handler": "Handled by",
        "step": "Step",
        "started": "Started",
        "seconds": "Seconds",
        "outcome": "Outcome",
        "message": "Message",
        "run": "Run",
        "no_actions": "No recovery action was run through hisguard.",
        "deadline": "Deadline",
        "due": "Due",
        "state": "State",
        "missing": "Missing",
        "state.pending": "pending",
        "state.due": "due, not met",
        "state.done": "met",
        "state.moot": "recovered before it",
        "no_deadlines": "This class has no deadlines.",
        "department": "Department",
        "coordinator": "Coordinated by",
        "on_paper": "On paper since",
        "reentry_key": "Key data, same day (by {due})",
        "reentry_all": "All data, next day (by {due})",
        "done_at": "done: {when}",
        "sign": "Signed",
        "reentry_note": "P3.7.4 / P4.7.4: key data is entered the day the system is back, all of it the "
        "next day; IT's technical group helps key departments (P3.7.5).",
        "reentry_na": "This class did not stop the system: nothing to re-enter.",
        "root_cause": "Root cause",
        "prevention": "Prevention",
        "participants": "Review participants",
        "reviewed": "Reviewed",
        "to_fill": "(to be filled in by the technical review)",
        "review_due": "P3.7.6 / P4.7.6: within 2 days of recovery IT holds a technical review, finds the "
        "cause, sets prevention and reports to leadership.",
        "signatures": "Head of IT: ____________    Emergency group: ____________    Date: ____________",
        "time": "Time",
        "actor": "Actor",
        "action": "Action",
        "detail": "Detail",
        "channel": "Channel",
        "sent": "sent",
        "failed": "failed",
        "attempts": "Attempts",
        "no_notifications": "No reminder was sent (no channel configured, or none due yet).",
        "total": "Total",
        "time_to_recovery": "From injected fault to recovery",
        "ok": "ok",
        "not_ok": "failed",
        "footer": "Generated by hisguard. Times in {tz}; the timeline is stored in UTC (var/incidents/<id>/"
        "timeline.jsonl, append-only).",
        "phase.open": "open",
        "phase.resolved": "recovered",
    },
}

CSS_EXTRA = """
.drill-banner {
  background: #fff3cd; border: 1px solid #e0b000; padding: 6px 12px; border-radius: 6px; font-weight: 600;
}
.ok { color: var(--pass); font-weight: 600; }
.bad { color: var(--fail); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.when { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.sign { width: 9em; }
.fill { min-height: 4em; border: 1px dashed var(--line); padding: 8px; white-space: pre-wrap; }
.state-due { color: var(--fail); font-weight: 600; }
.state-done { color: var(--pass); }
.state-moot, .state-pending { color: var(--muted); }
.bar { display: inline-block; height: 10px; background: #1a56a8; border-radius: 2px; vertical-align: middle; }
"""


def _t(lang: str):
    table = STRINGS["en" if lang == "en" else "zh"]

    def t(key: str, **fields: object) -> str:
        text = table.get(key, key)
        return text.format(**fields) if fields else text

    return t


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def entry_text(entry: model.Entry, lang: str) -> str:
    """One line that says what an entry records."""
    d = entry.detail
    if entry.action == "incident.open":
        cls = model.tr(model.CLASS_TEXT.get(str(d.get("class")), {"zh": "?", "en": "?"}), lang)
        return f"{cls}: {d.get('summary', '')}"
    if entry.action == "incident.log":
        return str(d.get("message", ""))
    if entry.action == "incident.run":
        return f"{d.get('step')}: {d.get('outcome')} ({d.get('seconds')} s) {d.get('message', '')}".strip()
    if entry.action == "drill.step":
        ok = "ok" if d.get("ok") else "FAILED"
        return (
            f"{d.get('name')}: {ok} ({float(d.get('seconds') or 0):.1f} s) {d.get('message') or ''}".strip()
        )
    if entry.action == "drill.status":
        return f"{d.get('moment')}: " + " | ".join(map(str, d.get("next_steps") or []))
    if entry.action == "incident.mark":
        return f"{d.get('what')}: {' '.join(map(str, d.get('items') or []))}".strip()
    parts = [f"{k}={_scalar(v)}" for k, v in d.items() if v not in (None, "", [], {})]
    text = ", ".join(parts)
    return text if len(text) <= 300 else text[:297] + "..."


def build(
    loaded: Any,
    assessment: model.Assessment,
    settings: Any,
    notifications: list[dict[str, Any]],
    lang: str,
) -> dict[str, Any]:
    """The report's data (also the JSON report)."""
    tz = settings.tz
    inc = assessment.incident
    t = _t(lang)
    esc = assessment.escalation
    depts = model.departments_for(inc.org, settings.agency_departments)
    reentry_states = {s.deadline.key: s for s in assessment.deadlines if s.deadline.key.startswith("reentry")}
    reentry = []
    if inc.cls == "1":
        key_dl, all_dl = reentry_states.get("reentry-key"), reentry_states.get("reentry-all")
        for d in depts:
            reentry.append(
                {
                    "key": d.key,
                    "name": d.text(lang),
                    "coordinator": [
                        model.ROLES[r].text(lang, inc.org) for r in d.coordinator if r in model.ROLES
                    ],
                    "on_paper_since": model.local_time(inc.paper[d.key], tz) if d.key in inc.paper else None,
                    "key_items": model.tr(d.reentry_key, lang),
                    "all_items": model.tr(d.reentry_all, lang),
                    "key_due": model.local_time(key_dl.deadline.due, tz) if key_dl else None,
                    "all_due": model.local_time(all_dl.deadline.due, tz) if all_dl else None,
                    "key_done": model.local_time(inc.reentered_key[d.key], tz)
                    if d.key in inc.reentered_key
                    else None,
                    "all_done": model.local_time(inc.reentered_all[d.key], tz)
                    if d.key in inc.reentered_all
                    else None,
                    "articles": list(d.articles),
                }
            )
    review = next((e for e in reversed(loaded.entries) if e.action == "incident.review"), None)
    drill = next((e for e in reversed(loaded.entries) if e.action == "drill.summary"), None)
    return {
        "schema": SCHEMA,
        "lang": lang,
        "timezone": settings.timezone,
        "generated": model.iso(assessment.now),
        "generated_local": model.local_time(assessment.now, tz, seconds=True),
        "incident": {
            "id": inc.id,
            "drill": inc.drill,
            "scenario": inc.scenario,
            "organization": inc.org,
            "class": inc.cls,
            "class_text": model.tr(model.CLASS_TEXT[inc.cls], lang),
            "summary": inc.summary,
            "phase": inc.phase,
            "opened": model.iso(inc.opened),
            "opened_local": model.local_time(inc.opened, tz, seconds=True),
            "opened_by": inc.opened_by,
            "resolved": model.iso(inc.resolved) if inc.resolved else None,
            "resolved_local": model.local_time(inc.resolved, tz, seconds=True) if inc.resolved else None,
            "resolution": inc.resolution,
            "outage_seconds": int(assessment.outage.total_seconds()),
            "outage_text": model.duration(assessment.outage, lang),
            "symptoms": [
                {"key": s, "text": model.symptom(s).text(lang, inc.org), "class": model.symptom(s).cls}
                for s in inc.symptoms
                if _known_symptom(s)
            ],
            "root_cause": inc.root_cause,
            "prevention": inc.prevention,
            "participants": (review.detail.get("participants") if review else None) or None,
            "reviewed": model.local_time(inc.reviewed, tz) if inc.reviewed else None,
        },
        "escalation": {
            "reporter": model.ROLES[esc.reporter].text(lang, inc.org),
            "report_to": [model.ROLES[r].text(lang, inc.org) for r in esc.report_to],
            "handler": model.tr(esc.handler, lang),
            "rule": model.tr(esc.rule, lang),
            "article": esc.article,
        },
        "deadlines": [
            {
                "key": s.deadline.key,
                "title": model.tr(s.deadline.title, lang),
                "article": s.deadline.article,
                "due": model.iso(s.deadline.due),
                "due_local": model.local_time(s.deadline.due, tz),
                "state": s.state,
                "state_text": t("state." + s.state),
                "missing": [
                    model.DEPARTMENTS[m].text(lang) if m in model.DEPARTMENTS else m
                    for m in s.missing
                    if s.deadline.key != "review"
                ],
            }
            for s in assessment.deadlines
        ],
        "actions": [
            {
                "step": e.detail.get("step"),
                "started_local": model.local_time(
                    e.time - _seconds(e.detail.get("seconds")), tz, seconds=True
                ),
                "seconds": e.detail.get("seconds"),
                "ok": bool(e.detail.get("ok")),
                "outcome": e.detail.get("outcome"),
                "message": e.detail.get("message"),
                "run": e.detail.get("run"),
                "actor": e.actor,
            }
            for e in inc.steps
        ],
        "drill": drill.detail if drill else None,
        "reentry": reentry,
        "timeline": [
            {
                "line": e.line,
                "time": model.iso(e.time),
                "time_local": model.local_time(e.time, tz, seconds=True),
                "actor": e.actor,
                "action": e.action,
                "text": entry_text(e, lang),
                "detail": e.detail,
            }
            for e in loaded.entries
        ],
        "notifications": notifications,
        "problems": list(loaded.problems),
    }


def _known_symptom(key: str) -> bool:
    try:
        model.symptom(key)
    except model.IncidentModelError:
        return False
    return True


def _seconds(value: Any):
    from datetime import timedelta

    try:
        return timedelta(seconds=float(value or 0))
    except (TypeError, ValueError):
        return timedelta(0)


def render(
    loaded: Any,
    assessment: model.Assessment,
    settings: Any,
    notifications: list[dict[str, Any]],
    fmt: str,
    lang: str,
) -> str:
    data = build(loaded, assessment, settings, notifications, lang)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    if fmt != "html":
        raise ValueError(f"unknown incident report format {fmt!r}; use html or json")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hisguard.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    css = resources.files("hisguard.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    return env.get_template("incident.html.j2").render(
        d=data,
        t=_t(lang),
        css=Markup(css + CSS_EXTRA),
        now=datetime.now(UTC),
    )
