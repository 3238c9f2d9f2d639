"""The printable machine-room log (机房日志): the stored inspections with every item, a sign-off line per
entry and one for the machine-room manager. HTML (self-contained, zh default, en) or plain text."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from markupsafe import Markup

from hisguard.report.i18n import check_lang, layered_translator

FORMATS = ("html", "text")

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "inspect.title": "机房日志",
        "inspect.regulation": (
            "依据：第二部分 机房管理制度 第四章 第二条（每月设备检查并记入机房日志）、"
            "第八条（巡视监控，异常记入日志）、"
            "第六章 第八条（每日备份）、第七章 第三条（每天检查空调和UPS）"
        ),
        "inspect.since": "起始日期",
        "inspect.entries": "记录数",
        "inspect.none": "所选时间内没有巡检记录。",
        "inspect.kind.daily": "日常巡检",
        "inspect.kind.monthly": "月度设备检查",
        "inspect.entry": "记录",
        "inspect.inspector": "巡检人",
        "inspect.result": "结论",
        "inspect.notes": "备注",
        "inspect.run": "运行编号",
        "inspect.item": "项目",
        "inspect.subject": "对象",
        "inspect.summary": "情况",
        "inspect.control": "条款",
        "inspect.item.ups": "UPS",
        "inspect.item.services": "关键服务",
        "inspect.item.disk": "磁盘空间",
        "inspect.item.backup": "最近备份",
        "inspect.item.switch": "交换机",
        "inspect.item.smart": "硬盘SMART",
        "inspect.item.fs_errors": "文件系统错误",
        "inspect.item.uptime": "运行时间",
        "inspect.item.hardware_age": "设备年限",
        "inspect.item.inspection": "巡检",
        "inspect.state.ok": "正常",
        "inspect.state.warning": "注意",
        "inspect.state.alarm": "告警",
        "inspect.state.error": "错误",
        "inspect.state.not_applicable": "不适用",
        "inspect.signature": "巡检人签字 / 日期",
        "inspect.manual": "人工检查（空调、门窗、灯、锁）",
        "inspect.manager": "机房负责人审核签字 / 日期",
        "inspect.generated": "打印时间",
    },
    "en": {
        "inspect.title": "Machine-room log",
        "inspect.regulation": (
            "Rules: part 2 machine-room management, ch. 4 art. 2 (monthly equipment check in the "
            "machine-room log), art. 8 (patrols, anomalies logged), ch. 6 art. 8 (daily backup), "
            "ch. 7 art. 3 (daily air-conditioning and UPS check)"
        ),
        "inspect.since": "Since",
        "inspect.entries": "Entries",
        "inspect.none": "No inspection in the selected period.",
        "inspect.kind.daily": "Daily inspection",
        "inspect.kind.monthly": "Monthly equipment check",
        "inspect.entry": "Entry",
        "inspect.inspector": "Inspector",
        "inspect.result": "Result",
        "inspect.notes": "Notes",
        "inspect.run": "Run",
        "inspect.item": "Item",
        "inspect.subject": "Subject",
        "inspect.summary": "Observed",
        "inspect.control": "Control",
        "inspect.item.ups": "UPS",
        "inspect.item.services": "Key services",
        "inspect.item.disk": "Disk space",
        "inspect.item.backup": "Last backup",
        "inspect.item.switch": "Switch",
        "inspect.item.smart": "Disk SMART",
        "inspect.item.fs_errors": "File-system errors",
        "inspect.item.uptime": "Uptime",
        "inspect.item.hardware_age": "Hardware age",
        "inspect.item.inspection": "Inspection",
        "inspect.state.ok": "ok",
        "inspect.state.warning": "warning",
        "inspect.state.alarm": "ALARM",
        "inspect.state.error": "error",
        "inspect.state.not_applicable": "n/a",
        "inspect.signature": "Inspector's signature / date",
        "inspect.manual": "Manual checks (air conditioning, doors, windows, lights, locks)",
        "inspect.manager": "Machine-room manager's review / date",
        "inspect.generated": "Printed",
    },
}


def strings(lang: str):
    return layered_translator(lang, STRINGS)


def render_log(entries: list[dict[str, Any]], fmt: str, lang: str, since: str | None = None) -> str:
    check_lang(lang)
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; choose one of {', '.join(FORMATS)}")
    t = strings(lang)
    generated = datetime.now(UTC).replace(microsecond=0).isoformat()
    if fmt == "text":
        return render_text(entries, t, since, generated)
    from hisguard.report.html import _environment, fmt_time

    css = resources.files("hisguard.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    env = _environment()
    env.filters["time"] = fmt_time
    template = env.get_template("inspection_log.html.j2")
    return template.render(entries=entries, since=since, generated=generated, t=t, css=Markup(css), lang=lang)


def render_text(entries: list[dict[str, Any]], t, since: str | None, generated: str) -> str:
    from hisguard.report.html import fmt_time

    lines = [t("inspect.title"), t("inspect.regulation"), ""]
    lines.append(f"{t('inspect.since')}: {since or '-'}    {t('inspect.entries')}: {len(entries)}")
    if not entries:
        lines += ["", t("inspect.none")]
    for e in entries:
        lines += [
            "",
            f"#{e['id']} {t('inspect.kind.' + e['kind'])}  {fmt_time(e.get('started'))}  "
            f"{t('inspect.result')}: {t('inspect.state.' + e['status'])}  "
            f"{t('inspect.inspector')}: {e.get('inspector') or '-'}",
        ]
        if e.get("notes"):
            lines.append(f"  {t('inspect.notes')}: {e['notes']}")
        for i in e["items"]:
            label = t("inspect.item." + i["item"])
            lines.append(f"  [{t('inspect.state.' + i['status'])}] {i['host']} {label}: {i['summary']}")
        lines.append(f"  {t('inspect.signature')}: ________________")
    lines += [
        "",
        f"{t('inspect.manager')}: ________________",
        f"{t('inspect.generated')}: {fmt_time(generated)}",
    ]
    return "\n".join(lines) + "\n"
