"""The weekly log review report (每周服务器日志检查记录, P2.4.10 / P2.5.2): per server the period's
authentication failures, sudo use, new accounts, failed units and kernel errors, with the reviewer's sign-off
and the actions taken. HTML (self-contained, printable, zh default, en) or JSON (the stored record)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from markupsafe import Markup

from hisguard.report.i18n import check_lang, layered_translator

FORMATS = ("html", "json")

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "review.title": "每周服务器日志检查记录",
        "review.regulation": (
            "依据：第二部分 第四章 第十条（系统管理员每周检查各服务器日志并保存）、"
            "第五章 第二条（系统日志分析，处理措施记录在案）"
        ),
        "review.id": "记录编号",
        "review.period": "检查时段",
        "review.status": "收集情况",
        "review.status.collected": "全部收集",
        "review.status.partial": "部分收集",
        "review.status.error": "收集失败",
        "review.totals": "汇总",
        "review.source": "日志来源",
        "review.notes": "说明",
        "review.none": "无",
        "review.more": "另有 {count} 条未列出（仅列出最近的记录）",
        "review.cat.auth_failures": "认证失败",
        "review.cat.sudo": "sudo 使用",
        "review.cat.new_accounts": "新建账号",
        "review.cat.failed_units": "失败的服务",
        "review.cat.kernel_errors": "内核错误",
        "review.sign_off": "审核签字",
        "review.reviewer": "检查人",
        "review.signed_by": "签字人",
        "review.signed": "签字时间",
        "review.actions": "分析结论与处理措施",
        "review.signature": "签字",
        "review.unsigned": "尚未签字：用 hisguard logreview signoff 记录签字和处理措施，或打印后手写。",
    },
    "en": {
        "review.title": "Weekly server log review",
        "review.regulation": (
            "Rules: part 2 ch. 4 art. 10 (system administrators review and keep every server's logs weekly), "
            "ch. 5 art. 2 (system logs analysed, actions recorded)"
        ),
        "review.id": "Review",
        "review.period": "Period",
        "review.status": "Collection",
        "review.status.collected": "all collected",
        "review.status.partial": "partly collected",
        "review.status.error": "failed",
        "review.totals": "Totals",
        "review.source": "Source",
        "review.notes": "Notes",
        "review.none": "none",
        "review.more": "{count} more not listed (only the latest lines are kept)",
        "review.cat.auth_failures": "Authentication failures",
        "review.cat.sudo": "sudo use",
        "review.cat.new_accounts": "New accounts",
        "review.cat.failed_units": "Failed units",
        "review.cat.kernel_errors": "Kernel errors",
        "review.sign_off": "Sign-off",
        "review.reviewer": "Reviewer",
        "review.signed_by": "Signed by",
        "review.signed": "Signed",
        "review.actions": "Analysis and actions taken",
        "review.signature": "Signature",
        "review.unsigned": "Not signed yet: record it with hisguard logreview signoff, or sign the printout.",
    },
}


def strings(lang: str):
    return layered_translator(lang, STRINGS)


def render_review(review: dict[str, Any], fmt: str, lang: str) -> str:
    """The report of a stored review (its record with id, signed_by, signed, actions)."""
    check_lang(lang)
    if fmt not in FORMATS:
        raise ValueError(f"unknown review format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(review, ensure_ascii=False, indent=2, default=str) + "\n"
    from hisguard.report.html import _environment, fmt_time

    css = resources.files("hisguard.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    env = _environment()
    env.filters["time"] = fmt_time
    template = env.get_template("log_review.html.j2")
    categories = ("auth_failures", "sudo", "new_accounts", "failed_units", "kernel_errors")
    return template.render(r=review, t=strings(lang), css=Markup(css), categories=categories)
