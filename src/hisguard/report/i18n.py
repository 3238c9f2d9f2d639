"""Every string a report shows, in Chinese (default) and English. Add a key to both languages."""

from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "report_title": "信息化管理制度合规报告",
        "regulation": "依据：医疗卫生机构信息化管理办法（浙江省卫生信息中心）",
        "run": "运行",
        "run_id": "运行编号",
        "kind": "类型",
        "mode": "模式",
        "playbook": "剧本",
        "started": "开始时间",
        "finished": "结束时间",
        "run_status": "运行状态",
        "hosts": "主机",
        "host": "主机",
        "generated": "报告生成时间",
        "toc": "目录",
        "summary": "总览",
        "fleet_compliance": "全网合规率",
        "compliance_formula": (
            "合规率 = 通过 ÷（通过 + 不合规 + 错误），按“主机 × 条款”计；已豁免和不适用的结果不计入。"
        ),
        "no_compliance": "无可计算的结果",
        "articles_summary": (
            "条款共 {total} 条：有检查结果 {checked} 条，需人工确认 {attest} 条，未检查 {notrun} 条。"
        ),
        "articles": "条款一览",
        "articles_note": (
            "制度的每一条款均列出。需人工确认的条款（人工或组织管理措施）须由负责人核实后在右栏签字。"
        ),
        "control_id": "条款编号",
        "title": "条款",
        "implementation": "落实方式",
        "checked_by": "检查方式",
        "status": "状态",
        "results": "结果（主机数）",
        "attestation": "确认人 / 日期",
        "host_details": "主机明细",
        "host_details_note": "不合规和错误的主机排在前面；每台主机内，不合规项在前。",
        "observed": "实际情况",
        "expected": "要求",
        "remediation": "整改建议",
        "evidence": "证据",
        "task": "检查任务",
        "checked_at": "检查时间",
        "waiver": "豁免",
        "waivers": "豁免",
        "waivers_active": "本次生效的豁免",
        "waivers_expired": "已过期的豁免（不再豁免）",
        "no_waivers": "本次运行没有使用豁免。",
        "no_expired_waivers": "没有过期的豁免。",
        "reason": "理由",
        "approver": "批准人",
        "ticket": "工单号",
        "expires": "有效期至",
        "expired_on": "已于 {date} 过期",
        "covers": "适用范围",
        "affected_hosts": "涉及主机",
        "trend": "合规率趋势",
        "trend_note": "最近 {n} 次同类运行的全网合规率。",
        "trend_empty": "暂无历史数据。",
        "trend_aria": "合规率趋势图",
        "no_results": "本次运行没有结果。",
        "not_in_catalog": "不在条款目录中",
        "host_unreachable": "无法连接该主机（或运行在检查前失败），没有检查结果。",
        "host_no_results": "该主机没有检查结果。",
        "all_pass_hosts": "全部通过",
        "footer": "由 hisguard 生成。本报告为单一文件，可离线查看和打印。",
        "print_hint": "打印",
        "status.pass": "通过",
        "status.fail": "不合规",
        "status.error": "错误",
        "status.waived": "已豁免",
        "status.not_applicable": "不适用",
        "status.needs_attestation": "需人工确认",
        "status.not_run": "未检查",
        "status.unknown_control": "未知条款",
        "impl.automated": "自动检查",
        "impl.partial": "部分自动",
        "impl.manual": "人工",
        "impl.organizational": "组织管理",
        "kind.audit": "审计",
        "kind.enforce": "加固",
        "kind.facts": "信息收集",
        "runstatus.successful": "成功",
        "runstatus.failed": "失败",
        "runstatus.timeout": "超时",
        "runstatus.canceled": "已取消",
    },
    "en": {
        "html_lang": "en",
        "report_title": "IT management rules: compliance report",
        "regulation": (
            "Against: IT management rules for health institutions (Zhejiang Health Information Center)"
        ),
        "run": "Run",
        "run_id": "Run",
        "kind": "Kind",
        "mode": "Mode",
        "playbook": "Playbook",
        "started": "Started",
        "finished": "Finished",
        "run_status": "Run status",
        "hosts": "Hosts",
        "host": "Host",
        "generated": "Report generated",
        "toc": "Contents",
        "summary": "Summary",
        "fleet_compliance": "Fleet compliance",
        "compliance_formula": (
            "Compliance = pass ÷ (pass + fail + error), counted per host × article; "
            "waived and not-applicable results are not counted."
        ),
        "no_compliance": "nothing to compute",
        "articles_summary": (
            "{total} articles: {checked} with check results, {attest} need attestation, {notrun} not run."
        ),
        "articles": "Articles",
        "articles_note": (
            "Every article of the rules is listed. Articles that need attestation (manual or "
            "organizational measures) must be confirmed and signed by the person responsible."
        ),
        "control_id": "Article",
        "title": "Title",
        "implementation": "Implementation",
        "checked_by": "Checked by",
        "status": "Status",
        "results": "Results (hosts)",
        "attestation": "Attested by / date",
        "host_details": "Hosts in detail",
        "host_details_note": "Hosts with failures and errors come first; within a host, failures first.",
        "observed": "Observed",
        "expected": "Expected",
        "remediation": "Remediation",
        "evidence": "Evidence",
        "task": "Task",
        "checked_at": "Checked at",
        "waiver": "Waiver",
        "waivers": "Waivers",
        "waivers_active": "Waivers applied in this run",
        "waivers_expired": "Expired waivers (no longer waive)",
        "no_waivers": "No waiver was applied in this run.",
        "no_expired_waivers": "No expired waivers.",
        "reason": "Reason",
        "approver": "Approver",
        "ticket": "Ticket",
        "expires": "Valid until",
        "expired_on": "expired on {date}",
        "covers": "Covers",
        "affected_hosts": "Hosts affected",
        "trend": "Compliance trend",
        "trend_note": "Fleet compliance over the last {n} runs of this kind.",
        "trend_empty": "No history yet.",
        "trend_aria": "Compliance trend chart",
        "no_results": "This run has no results.",
        "not_in_catalog": "not in the catalog",
        "host_unreachable": "The host could not be reached (or the run failed before any check): no results.",
        "host_no_results": "No results for this host.",
        "all_pass_hosts": "all pass",
        "footer": "Generated by hisguard. This report is one self-contained file: view and print it offline.",
        "print_hint": "Print",
        "status.pass": "pass",
        "status.fail": "fail",
        "status.error": "error",
        "status.waived": "waived",
        "status.not_applicable": "not applicable",
        "status.needs_attestation": "needs attestation",
        "status.not_run": "not run",
        "status.unknown_control": "unknown article",
        "impl.automated": "automated",
        "impl.partial": "partly automated",
        "impl.manual": "manual",
        "impl.organizational": "organizational",
        "kind.audit": "audit",
        "kind.enforce": "enforce",
        "kind.facts": "facts",
        "runstatus.successful": "successful",
        "runstatus.failed": "failed",
        "runstatus.timeout": "timed out",
        "runstatus.canceled": "canceled",
    },
}


def check_lang(lang: str) -> str:
    if lang not in STRINGS:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGS)}")
    return lang


def translator(lang: str):
    """t(key, **fields): the string for `key` in `lang`; an unknown `group.value` shows as `value`."""
    table = STRINGS[check_lang(lang)]

    def t(key: str, **fields: object) -> str:
        text = table.get(key, key.split(".", 1)[-1])
        return text.format(**fields) if fields else text

    return t
