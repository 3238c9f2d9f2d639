"""The fault-emergency procedure as data: classes, escalation, deadlines and what to do next.

A pure model of Part 3 (hospitals) and Part 4 (health agencies) of the regulation, chapters 3-9:

- classify(): a fault's class (1, 2, 3, or `other` = medical-insurance line, hospitals only) from
  its symptoms, as chapter 4 lists them (P3.4 / P4.4);
- escalation(): who reports to whom and who handles each class (P3.4 / P4.4, P3.5.1, P3.7.2);
- deadlines(): from the moment an incident opens, the manual-operation (paper) thresholds of a
  hospital's departments, 30 min / 6 h / 24 h (P3.5.2, P3.6.2.2, P3.6.3.3; the agency text, P4.5.2,
  names none); after recovery, key data re-entered the same day and all of it the next day
  (P3.7.4), the technical review and report within 2 days (P3.7.6);
- replay(): an incident's state from its append-only timeline (the entries written by
  hisguard.incident_timeline and hisguard.timeline);
- assess(): at a given moment, the elapsed time, the next deadline, who must be told now, which
  departments must be on paper now and the next suggested step.

Times are timezone-aware UTC datetimes; local_time() shows them in the site's timezone
(Asia/Shanghai by default). Nothing here reads files, the clock or the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ORGS = ("hospital", "agency")
CLASSES = ("1", "2", "3", "other")
# Most severe first: when several symptoms are given, the first class in this order wins.
CLASS_ORDER = ("1", "other", "2", "3")
SCOPES = ("single", "department", "several", "all")
DEFAULT_TIMEZONE = "Asia/Shanghai"
LANGS = ("zh", "en")

ID_RE = re.compile(r"^(INC|DRILL)-\d{8}T\d{6}Z-[0-9a-f]{4,8}$")


class IncidentModelError(ValueError):
    """Bad input to the model (an unknown symptom, a class the organization does not have)."""


def part(org: str) -> str:
    """P3 for hospitals, P4 for agencies."""
    return "P3" if check_org(org) == "hospital" else "P4"


def article(org: str, suffix: str) -> str:
    """article("agency", "5.2") -> "P4.5.2"."""
    return f"{part(org)}.{suffix}"


def check_org(org: str) -> str:
    if org not in ORGS:
        raise IncidentModelError(f"unknown organization {org!r}: use hospital or agency")
    return org


def tr(text: dict[str, str], lang: str) -> str:
    return text["en"] if lang == "en" else text["zh"]


# ------------------------------------------------------------------------------------------ symptoms
@dataclass(frozen=True)
class Symptom:
    """One symptom of chapter 4 (or a report symptom of chapter 3 whose class depends on scope)."""

    key: str
    cls: str | None  # None: a chapter-3 report symptom; its class follows from the scope
    zh: str
    en: str
    orgs: tuple[str, ...] = ORGS
    aliases: tuple[str, ...] = ()
    zh_agency: str | None = None

    def text(self, lang: str, org: str = "hospital") -> str:
        if lang == "en":
            return self.en
        return self.zh_agency if org == "agency" and self.zh_agency else self.zh


SYMPTOMS: tuple[Symptom, ...] = (
    # 一类故障 (P3.4 / P4.4): "...等造成的网络瘫痪"
    Symptom(
        "server-down",
        "1",
        "服务器不能正常工作",
        "a server does not work",
        aliases=("服务器故障", "服务器宕机", "his-server-down", "db-down", "his-db-down", "数据库宕机"),
    ),
    Symptom(
        "fiber-cut", "1", "光纤损坏", "a fibre is damaged", aliases=("fibre-cut", "光纤断", "uplink-down")
    ),
    Symptom(
        "master-data-lost",
        "1",
        "主服务器数据丢失",
        "data lost on the main server",
        aliases=("data-lost", "主数据丢失"),
    ),
    Symptom("backup-disk-failed", "1", "备份硬盘损坏", "a backup disk failed", aliases=("备份盘损坏",)),
    Symptom("server-unstable", "1", "服务器工作不稳定", "a server works unreliably"),
    Symptom(
        "local-network-outage",
        "1",
        "局部网络不通",
        "part of the network is unreachable",
        aliases=("switch-dead", "access-switch-dead", "交换机故障", "core-uplink-down"),
    ),
    Symptom(
        "price-catalogue-changed",
        "1",
        "价表目录被人删除或修改",
        "the price catalogue was deleted or modified",
        orgs=("hospital",),
        aliases=("price-catalogue-deleted", "价表被删除", "价表被修改"),
    ),
    Symptom("key-terminal-failure", "1", "重点终端故障", "a key terminal failed", aliases=("重点终端",)),
    Symptom(
        "systematic-fault",
        "1",
        "规律性的整体、局部软件和硬件故障",
        "recurring system-wide or partial software or hardware faults",
    ),
    Symptom(
        "network-paralysed",
        "1",
        "网络瘫痪",
        "the whole network is paralysed",
        aliases=("network-down", "网络整体故障", "network-wide-fault"),
    ),
    # 二类故障
    Symptom(
        "single-terminal-fault",
        "2",
        "单一终端软、硬件故障",
        "software or hardware fault of a single terminal",
        aliases=("单一终端故障", "terminal-fault"),
    ),
    Symptom(
        "single-record-lost",
        "2",
        "单一病人信息丢失",
        "one patient's (one record's) data lost",
        aliases=("single-patient-data-lost", "单一信息丢失"),
        zh_agency="单一信息丢失",
    ),
    Symptom(
        "occasional-processing-error", "2", "偶然性的数据处理错误", "an occasional data-processing error"
    ),
    Symptom(
        "workflow-violation",
        "2",
        "某些科室违反工作流程引起系统故障",
        "a department broke the workflow and caused a system fault",
        aliases=("违反工作流程",),
    ),
    # 三类故障
    Symptom(
        "operator-error",
        "3",
        "各终端操作不熟练或使用不当造成的错误",
        "an error from unskilled or improper use of a terminal",
        aliases=("操作不当", "操作不熟练", "misuse"),
    ),
    # 其它故障 (hospitals only)
    Symptom(
        "insurance-line-fault",
        "other",
        "医保线路、医保端引起的医保系统故障",
        "medical-insurance system fault from the insurance line or the insurer's end",
        orgs=("hospital",),
        aliases=("医保故障", "医保线路故障", "medical-insurance"),
    ),
    # 故障报告程序 (P3.3 / P4.3): what a workstation reports; the class follows from how far it reaches.
    Symptom("db-slow", None, "访问数据库速度迟缓", "database access is slow", aliases=("数据库慢",)),
    Symptom("cannot-open-program", None, "不能进入相应程序", "the application cannot be opened"),
    Symptom("cannot-save", None, "不能保存数据", "data cannot be saved", aliases=("不能保存",)),
    Symptom("no-network", None, "不能访问网络", "the network cannot be reached", aliases=("网络不通",)),
    Symptom("app-intermittent", None, "应用程序非连续性工作", "the application works intermittently"),
)
_BY_NAME: dict[str, Symptom] = {}
for _s in SYMPTOMS:
    for _name in (_s.key, _s.zh, *(_s.aliases)):
        _BY_NAME[_name.lower()] = _s

# A report symptom seen beyond a single terminal means a class-1 symptom of chapter 4.
_WIDE_EQUIVALENT = {
    "db-slow": "server-unstable",
    "app-intermittent": "server-unstable",
    "cannot-open-program": "server-down",
    "cannot-save": "server-down",
    "no-network": "local-network-outage",
}

SCOPE_TEXT = {
    "single": {"zh": "单一终端", "en": "a single terminal"},
    "department": {"zh": "一个科室", "en": "one department"},
    "several": {"zh": "多个科室", "en": "several departments"},
    "all": {"zh": "全院/全部门", "en": "everywhere"},
}


def symptom(name: str) -> Symptom:
    found = _BY_NAME.get(name.strip().lower())
    if found is None:
        known = ", ".join(s.key for s in SYMPTOMS)
        raise IncidentModelError(f"unknown symptom {name!r}; known symptoms: {known}")
    return found


@dataclass(frozen=True)
class Basis:
    """Why a class was chosen: one symptom and the class it implies."""

    symptom: str
    cls: str
    via: str | None = None  # the chapter-4 symptom a scoped report symptom stands for


@dataclass(frozen=True)
class Classification:
    cls: str | None  # None: the symptoms do not decide it (a report symptom without a scope)
    org: str
    basis: tuple[Basis, ...]
    undecided: tuple[str, ...] = ()  # report symptoms that need a scope


def classify(symptoms: Iterable[str], org: str, scope: str | None = None) -> Classification:
    """The class of a fault from its symptoms (keys, Chinese texts or aliases) as chapter 4 does.

    Report symptoms of chapter 3 (slow database, cannot save, ...) need `scope`: on a single
    terminal they are a class-2 fault (单一终端软、硬件故障); in a department or more, the class-1
    symptom they stand for (服务器工作不稳定, 服务器不能正常工作, 局部网络不通 / 网络瘫痪).
    The most severe class wins (1, other, 2, 3). Raises IncidentModelError for an unknown symptom,
    an unknown scope, or a symptom the organization's plan does not have (the medical-insurance
    `other` class and the price catalogue exist only in the hospital plan).
    """
    check_org(org)
    if scope is not None and scope not in SCOPES:
        raise IncidentModelError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
    basis: list[Basis] = []
    undecided: list[str] = []
    for name in symptoms:
        s = symptom(name)
        if org not in s.orgs:
            raise IncidentModelError(
                f"symptom {s.key} ({s.zh}) is in the hospital plan only; the agency plan (Part 4, "
                "chapter 4) has classes 1-3 and no medical-insurance `other` class: describe the fault "
                "by its effect (e.g. server-down, local-network-outage) or give --class"
            )
        if s.cls is not None:
            basis.append(Basis(s.key, s.cls))
        elif scope is None:
            undecided.append(s.key)
        elif scope == "single":
            basis.append(Basis(s.key, "2", via="single-terminal-fault"))
        else:
            via = (
                "network-paralysed" if (s.key == "no-network" and scope == "all") else _WIDE_EQUIVALENT[s.key]
            )
            basis.append(Basis(s.key, "1", via=via))
    classes = {b.cls for b in basis}
    cls = next((c for c in CLASS_ORDER if c in classes), None)
    return Classification(cls, org, tuple(basis), tuple(undecided))


def check_class(cls: str, org: str) -> str:
    cls = str(cls).strip().lower()
    if cls not in CLASSES:
        raise IncidentModelError(f"unknown fault class {cls!r}: use 1, 2, 3 or other")
    if cls == "other" and check_org(org) == "agency":
        raise IncidentModelError(
            "the agency plan (P4.4) has classes 1, 2 and 3 only; the `other` (medical-insurance) class "
            "is in the hospital plan (P3.4)"
        )
    return cls


CLASS_TEXT = {
    "1": {"zh": "一类故障", "en": "class 1"},
    "2": {"zh": "二类故障", "en": "class 2"},
    "3": {"zh": "三类故障", "en": "class 3"},
    "other": {"zh": "其它故障（医保）", "en": "other (medical insurance)"},
}


# --------------------------------------------------------------------------------------------- roles
@dataclass(frozen=True)
class Role:
    key: str
    zh: str
    en: str
    zh_agency: str | None = None

    def text(self, lang: str, org: str = "hospital") -> str:
        if lang == "en":
            return self.en
        return self.zh_agency if org == "agency" and self.zh_agency else self.zh


ROLES: dict[str, Role] = {
    r.key: r
    for r in (
        Role("sysadmin", "系统管理员", "the system administrator"),
        Role("it-director", "信息中心（科）主任", "the head of the IT department"),
        Role(
            "emergency-leader",
            "院应急小组领导（应急领导小组组长：院长）",
            "the leader of the emergency group (its head: the hospital director)",
            zh_agency="厅（局）应急小组领导（应急领导小组组长：厅（局）长）",
        ),
        Role("vendors", "软、硬件供应商和线路运营商（技术联络组）", "software/hardware vendors and carriers"),
        Role(
            "departments",
            "全院各科室（院内协调组通知）",
            "every department (told by the coordination group)",
            zh_agency="各科室（协调组通知）",
        ),
        Role("reporters", "报告故障的工作站", "the workstations that reported the fault"),
        Role("finance", "财务科", "the finance department"),
        Role("insurance-office", "医保办", "the medical-insurance office"),
        Role("outpatient-office", "门诊办公室", "the outpatient office"),
        Role("medical-affairs", "医务科", "medical affairs"),
        Role("nursing", "护理部", "the nursing department"),
        Role("outpatient-director", "门诊部主任", "the head of outpatients"),
        Role("leadership", "院领导", "hospital leadership", zh_agency="厅（局）领导"),
    )
}


@dataclass(frozen=True)
class Escalation:
    """Who reports the fault to whom, and who handles it (chapter 4's 处理原则)."""

    cls: str
    org: str
    reporter: str  # a ROLES key
    report_to: tuple[str, ...]
    handler: dict[str, str]
    rule: dict[str, str]  # the regulation's sentence
    article: str


def escalation(cls: str, org: str) -> Escalation:
    cls = check_class(cls, org)
    unit_zh = "院" if org == "hospital" else "厅（局）"
    group_zh = "医院应急领导小组" if org == "hospital" else "厅（局）应急领导小组"
    art = article(org, "4")
    if cls == "1":
        return Escalation(
            cls,
            org,
            "it-director",
            ("emergency-leader",),
            {
                "zh": f"{group_zh}组织协调恢复工作",
                "en": "the emergency leadership group coordinates recovery",
            },
            {
                "zh": f"一类故障——由信息中心（科）主任上报{unit_zh}应急小组领导，"
                f"由{group_zh}组织协调恢复工作。",
                "en": "Class 1: the head of IT reports to the emergency group's leader; the emergency "
                "leadership group organizes and coordinates recovery.",
            },
            art,
        )
    if cls == "2":
        return Escalation(
            cls,
            org,
            "sysadmin",
            ("it-director",),
            {"zh": "信息中心（科）集中解决", "en": "the IT department resolves it"},
            {
                "zh": "二类故障——由系统管理人员上报信息中心（科）主任，由信息中心（科）集中解决。",
                "en": "Class 2: the system administrators report to the head of IT; "
                "the IT department resolves it.",
            },
            art,
        )
    if cls == "3":
        return Escalation(
            cls,
            org,
            "sysadmin",
            (),
            {
                "zh": "系统管理员单独解决，并详细登记维护情况",
                "en": "the system administrator alone, logging the fix",
            },
            {
                "zh": "三类故障——由系统管理员单独解决，并详细登记维护情况。",
                "en": "Class 3: the system administrator resolves it alone and records "
                "the maintenance in detail.",
            },
            art,
        )
    return Escalation(
        cls,
        org,
        "sysadmin",
        ("finance", "insurance-office", "outpatient-office"),
        {
            "zh": "财务科、医保办、门诊办公室按医保相关规定协调解决",
            "en": "finance, the insurance office and the outpatient office, under the insurance rules",
        },
        {
            "zh": "其它故障——由财务科、医保办、门诊办公室按医保相关规定协调解决。",
            "en": "Other faults: finance, the insurance office and the outpatient office resolve "
            "them together under the medical-insurance rules.",
        },
        art,
    )


# --------------------------------------------------------------------------------------- departments
@dataclass(frozen=True)
class Department:
    """A hospital department of chapters 5-6, with its paper threshold and its re-entry work."""

    key: str
    zh: str
    en: str
    paper_after: timedelta  # P3.5.2: goes to paper when the network is not back within this time
    coordinator: tuple[str, ...]  # ROLES keys
    articles: tuple[str, ...]
    on_paper: dict[str, str]  # what it does on paper
    reentry_key: dict[str, str]  # same day (P3.7.4)
    reentry_all: dict[str, str]  # next day

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


MIN30, HOURS6, HOURS24 = timedelta(minutes=30), timedelta(hours=6), timedelta(hours=24)

HOSPITAL_DEPARTMENTS: tuple[Department, ...] = (
    Department(
        "outpatient-registration",
        "门诊挂号",
        "outpatient registration",
        MIN30,
        ("outpatient-director", "finance"),
        ("P3.5.2", "P3.6.2.5"),
        {"zh": "手工挂号，登记患者信息", "en": "register patients by hand, with their details"},
        {"zh": "中断期间的患者挂号信息", "en": "registrations made during the outage"},
        {"zh": "其余手工登记内容，核对", "en": "the rest of the paper registers, checked"},
    ),
    Department(
        "outpatient-billing",
        "门诊收费处",
        "outpatient billing",
        MIN30,
        ("outpatient-director", "finance"),
        ("P3.6.2.2", "P3.6.2.3", "P3.6.2.4", "P3.6.2.5"),
        {
            "zh": "收款员转入手工收费，手工发票使用登记本逐张登记",
            "en": "cashiers bill by hand and log every manual invoice in the invoice register",
        },
        {
            "zh": "中断期间的患者信息和收费；门诊手工处方（药房交来）",
            "en": "patients and charges of the outage; outpatient paper prescriptions from the pharmacy",
        },
        {
            "zh": "手工发票登记本与系统核对；恢复后监测网络稳定性并反馈信息中心",
            "en": "the manual invoice register reconciled; watch stability and report to IT",
        },
    ),
    Department(
        "admission",
        "住院登记",
        "inpatient admission",
        MIN30,
        ("finance",),
        ("P3.5.2", "P3.6.3.2"),
        {"zh": "手工住院登记", "en": "admit patients on paper"},
        {"zh": "中断期间的入院登记", "en": "admissions made during the outage"},
        {
            "zh": "其余登记内容；住院处、记帐处原则上不补录费用",
            "en": "the remaining records; no fee back-entry at the admission or accounting desks",
        },
    ),
    Department(
        "outpatient-doctors",
        "门诊医生",
        "outpatient doctors",
        MIN30,
        ("medical-affairs",),
        ("P3.5.2", "P3.6.4.2"),
        {
            "zh": "处方、病历、检验检查申请单一律手写",
            "en": "prescriptions, records and test requests handwritten",
        },
        {"zh": "门诊处方（经收费处补录）", "en": "outpatient prescriptions (entered via billing)"},
        {"zh": "门诊病历等其余纸质记录", "en": "outpatient records and other paper"},
    ),
    Department(
        "pharmacy",
        "药房",
        "pharmacy",
        MIN30,
        ("medical-affairs",),
        ("P3.5.2", "P3.6.7.2", "P3.6.7.3", "P3.6.7.4", "P3.6.7.5", "P3.6.7.6"),
        {
            "zh": "按纸质药品价格表手工划价；门诊按手工处方发药，住院按药品请领单发药",
            "en": "price by the printed drug price list; dispense on handwritten prescriptions "
            "and requisitions",
        },
        {
            "zh": "门诊手工处方交收费处补录；住院补录医嘱发药确认并与请领单核对",
            "en": "outpatient prescriptions to billing; inpatient back-entered orders confirmed "
            "against requisitions",
        },
        {
            "zh": "出院带药等其他纸质处方确认",
            "en": "discharge medication and other paper prescriptions confirmed",
        },
    ),
    Department(
        "inpatient-doctors",
        "住院医生工作站",
        "inpatient doctor workstations",
        HOURS6,
        ("medical-affairs",),
        ("P3.5.2", "P3.6.4.2", "P3.6.4.3", "P3.6.4.4", "P3.6.4.5"),
        {
            "zh": "医嘱、病历、检验检查申请单手写；即将出院患者在申请单上注明",
            "en": "orders, records and requests handwritten; imminent discharges marked on requests",
        },
        {"zh": "医嘱（按信息中心通知的时间补录）", "en": "orders (at the time IT announces)"},
        {"zh": "病历等其余纸质信息", "en": "records and other paper"},
    ),
    Department(
        "nurse-stations",
        "护士工作站",
        "nurse stations",
        HOURS6,
        ("nursing",),
        ("P3.5.2", "P3.6.5.2", "P3.6.5.3", "P3.6.5.4"),
        {
            "zh": "详细记录患者费用执行情况；药品请领单一式两份",
            "en": "log every patient charge; drug requisitions in duplicate",
        },
        {"zh": "费用执行记录、药品请领单", "en": "charge logs and drug requisitions"},
        {"zh": "其余纸质信息", "en": "the remaining paper records"},
    ),
    Department(
        "operating-rooms",
        "手术室",
        "operating rooms",
        HOURS6,
        ("medical-affairs", "nursing"),
        ("P3.5.2",),
        {"zh": "手术登记和费用手工记录", "en": "surgery log and charges on paper"},
        {"zh": "手术费用和耗材", "en": "surgery charges and consumables"},
        {"zh": "其余手术记录", "en": "the remaining surgery records"},
    ),
    Department(
        "medical-technology",
        "医技检查",
        "medical technology (imaging, laboratory)",
        HOURS6,
        ("medical-affairs",),
        ("P3.5.2", "P3.6.6.2", "P3.6.6.3", "P3.6.6.4", "P3.6.6.5"),
        {
            "zh": "PACS、LIS 等转入手工方式；留取整理检查申请单底联",
            "en": "PACS, LIS and similar go manual; keep and sort request-form counterfoils",
        },
        {
            "zh": "按手工检查单登记手工记价补录患者费用",
            "en": "patient charges from the manual test registers",
        },
        {
            "zh": "其余检查记录；即将出院患者的费用告知科室",
            "en": "remaining records; charges of imminent discharges",
        },
    ),
    Department(
        "discharge-settlement",
        "出院结算处",
        "discharge settlement",
        HOURS24,
        ("finance",),
        ("P3.5.2", "P3.6.3.3", "P3.6.3.4"),
        {
            "zh": "普通出院推迟结算；急诊出院按病历和护士站记录手工核算，出具手写发票",
            "en": "ordinary discharges wait; emergency discharges settled by hand from records, "
            "handwritten invoice",
        },
        {"zh": "手工结算的出院患者", "en": "discharges settled by hand"},
        {"zh": "推迟的出院结算", "en": "the postponed discharges"},
    ),
    Department(
        "all-other",
        "全院其他业务",
        "every other service",
        HOURS24,
        ("medical-affairs",),
        ("P3.5.2",),
        {"zh": "全院各种业务转入手工操作", "en": "every service works on paper"},
        {"zh": "各科室确定的重要数据", "en": "what each department marks as key data"},
        {"zh": "全部纸质数据", "en": "all paper data"},
    ),
)
DEPARTMENTS = {d.key: d for d in HOSPITAL_DEPARTMENTS}
PAPER_GROUPS = (MIN30, HOURS6, HOURS24)
PAPER_KEYS = {MIN30: "paper-30min", HOURS6: "paper-6h", HOURS24: "paper-24h"}


def agency_department(key: str, zh: str | None = None, en: str | None = None) -> Department:
    """An agency department (the agency plan names none; the site's config lists them)."""
    return Department(
        key,
        zh or key,
        en or key,
        timedelta(0),
        (),
        ("P4.6.1", "P4.7.4"),
        {"zh": "按信息中心通知转入手工操作", "en": "works on paper when IT says so"},
        {"zh": "重要数据", "en": "key data"},
        {"zh": "全部数据", "en": "all data"},
    )


AGENCY_DEFAULT = agency_department("every-department", "各职能部门", "every department")


# ------------------------------------------------------------------------------------------ deadlines
@dataclass(frozen=True)
class Deadline:
    key: str  # paper-30min | paper-6h | paper-24h | reentry-key | reentry-all | review
    due: datetime  # UTC
    title: dict[str, str]
    article: str
    departments: tuple[str, ...] = ()
    tell: tuple[str, ...] = ()  # ROLES keys to tell when it falls due


def _end_of_local_day(moment: datetime, tz: ZoneInfo, days_after: int = 0) -> datetime:
    local_day: date = moment.astimezone(tz).date() + timedelta(days=days_after + 1)
    return datetime.combine(local_day, time(0), tzinfo=tz).astimezone(UTC)


def paper_deadlines(opened: datetime, org: str, cls: str) -> list[Deadline]:
    """The manual-operation thresholds of P3.5.2 for a class-1 (network-paralysing) fault.

    Hospitals only: the agency text (P4.5.2) says departments go to paper "by the expected
    recovery time" and names no threshold, so an agency gets none here (see assess()).
    """
    if cls != "1" or org != "hospital":
        return []
    titles = {
        MIN30: {
            "zh": "30分钟内不能恢复：门诊挂号、门诊收费、住院登记、门诊医生、药房转入手工操作",
            "en": "Not back within 30 min: outpatient registration and billing, admission, outpatient "
            "doctors and the pharmacy go to paper",
        },
        HOURS6: {
            "zh": "6小时内不能恢复：住院医生工作站、护士工作站、手术室、医技检查转入手工操作",
            "en": "Not back within 6 h: inpatient doctors, nurse stations, operating rooms and medical "
            "technology go to paper",
        },
        HOURS24: {
            "zh": "24小时以上不能恢复：全院各种业务转入手工操作；普通出院推迟结算",
            "en": "Not back within 24 h: every service goes to paper; ordinary discharges wait",
        },
    }
    result = []
    for after in PAPER_GROUPS:
        depts = tuple(d.key for d in HOSPITAL_DEPARTMENTS if d.paper_after == after)
        coordinators = tuple(
            dict.fromkeys(r for d in HOSPITAL_DEPARTMENTS if d.paper_after == after for r in d.coordinator)
        )
        result.append(
            Deadline(
                PAPER_KEYS[after],
                opened + after,
                titles[after],
                "P3.5.2",
                depts,
                ("departments", *coordinators),
            )
        )
    return result


def recovery_deadlines(resolved: datetime, org: str, cls: str, tz: ZoneInfo) -> list[Deadline]:
    """After recovery: key data the same (local) day, all data the next day (P3.7.4 / P4.7.4) for
    faults that stopped the system (class 1); the technical review and report to leadership within
    2 days (48 h) of recovery (P3.7.6 / P4.7.6) for class 1."""
    if cls != "1":
        return []
    return [
        Deadline(
            "reentry-key",
            _end_of_local_day(resolved, tz, 0),
            {"zh": "当日完成重要数据录入", "en": "Key data re-entered the same day"},
            article(org, "7.4"),
            tell=("departments",),
        ),
        Deadline(
            "reentry-all",
            _end_of_local_day(resolved, tz, 1),
            {"zh": "第二天完成全部数据补录", "en": "All data re-entered by the end of the next day"},
            article(org, "7.4"),
            tell=("departments",),
        ),
        Deadline(
            "review",
            resolved + timedelta(days=2),
            {
                "zh": "2天内组织技术研讨会，分析原因、制定预防措施，完成故障排除报告",
                "en": "Within 2 days: technical review, root cause, prevention, and the fault "
                "report to leadership",
            },
            article(org, "7.6"),
            tell=("leadership",),
        ),
    ]


# ------------------------------------------------------------------------------------------- timeline
@dataclass(frozen=True)
class Entry:
    """One timeline line: {time (UTC ISO), actor, action, detail}."""

    time: datetime
    actor: str | None
    action: str
    detail: dict[str, Any]
    line: int | None = None  # 1-based line in timeline.jsonl

    def to_json(self) -> dict[str, Any]:
        return {"time": iso(self.time), "actor": self.actor, "action": self.action, "detail": self.detail}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_time(value: str) -> datetime:
    """ISO 8601 -> aware UTC datetime (naive values are taken as UTC)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def entry_from_json(data: Any, line: int | None = None) -> Entry:
    """A timeline entry from its JSON object; ValueError when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("action"), str) or "time" not in data:
        raise ValueError("not a timeline entry (needs time, action)")
    detail = data.get("detail") or {}
    if not isinstance(detail, dict):
        detail = {"value": detail}
    actor = data.get("actor")
    return Entry(
        parse_time(str(data["time"])), None if actor is None else str(actor), data["action"], detail, line
    )


@dataclass
class Incident:
    """An incident's state, replayed from its timeline."""

    id: str
    org: str
    cls: str
    summary: str
    opened: datetime
    opened_by: str | None = None
    symptoms: tuple[str, ...] = ()
    scope: str | None = None
    suggested_cls: str | None = None  # what the symptoms say, when it differs from the declared class
    drill: bool = False
    scenario: str | None = None
    resolved: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    root_cause: str | None = None
    prevention: str | None = None
    reviewed: datetime | None = None
    told: dict[str, datetime] = field(default_factory=dict)  # role -> when it was told
    paper: dict[str, datetime] = field(default_factory=dict)  # department -> on paper since
    resumed: datetime | None = None
    reentered_key: dict[str, datetime] = field(default_factory=dict)
    reentered_all: dict[str, datetime] = field(default_factory=dict)
    steps: list[Entry] = field(default_factory=list)  # incident.run entries
    notes: list[Entry] = field(default_factory=list)
    reports: list[Entry] = field(default_factory=list)
    notified: dict[str, datetime] = field(default_factory=dict)  # deadline key -> first sent

    @property
    def phase(self) -> str:
        return "open" if self.resolved is None else "resolved"

    def outage(self, now: datetime) -> timedelta:
        return (self.resolved or now) - self.opened


class TimelineError(ValueError):
    """The timeline does not describe an incident (no open entry)."""


def replay(entries: Sequence[Entry]) -> Incident:
    """The incident's state from its timeline entries, in order. Unknown actions are kept as they
    are (they are shown in the report) and change nothing; a second open entry is ignored."""
    incident: Incident | None = None
    for e in entries:
        d = e.detail
        if e.action == "incident.open":
            if incident is not None:
                continue
            incident = Incident(
                id=str(d.get("id", "")),
                org=str(d.get("org", "hospital")),
                cls=str(d.get("class", "1")),
                summary=str(d.get("summary", "")),
                opened=e.time,
                opened_by=e.actor,
                symptoms=tuple(d.get("symptoms") or ()),
                scope=d.get("scope"),
                suggested_cls=d.get("suggested_class"),
                drill=bool(d.get("drill")),
                scenario=d.get("scenario"),
            )
            continue
        if incident is None:
            continue
        if e.action == "incident.classify":
            incident.cls = str(d.get("class", incident.cls))
            incident.suggested_cls = d.get("suggested_class")
        elif e.action == "incident.log":
            incident.notes.append(e)
        elif e.action == "incident.mark":
            what, items = d.get("what"), [str(i) for i in d.get("items") or ()]
            target = {
                "told": incident.told,
                "paper": incident.paper,
                "reentered-key": incident.reentered_key,
                "reentered-all": incident.reentered_all,
            }.get(what)
            if target is not None:
                for item in items:
                    target.setdefault(item, e.time)
                if what == "reentered-all":  # all data includes the key data
                    for item in items:
                        incident.reentered_key.setdefault(item, e.time)
            elif what == "resumed" and incident.resumed is None:
                incident.resumed = e.time
        elif e.action == "incident.run":
            incident.steps.append(e)
        elif e.action == "incident.resolve" and incident.resolved is None:
            incident.resolved = e.time
            incident.resolved_by = e.actor
            incident.resolution = d.get("summary")
        elif e.action == "incident.review":
            incident.root_cause = d.get("root_cause") or incident.root_cause
            incident.prevention = d.get("prevention") or incident.prevention
            if incident.root_cause and incident.prevention and incident.reviewed is None:
                incident.reviewed = e.time
        elif e.action == "incident.notify" and d.get("ok"):
            incident.notified.setdefault(str(d.get("deadline")), e.time)
        elif e.action == "incident.report":
            incident.reports.append(e)
    if incident is None:
        raise TimelineError("the timeline has no incident.open entry")
    return incident


# ------------------------------------------------------------------------------------------ assessment
@dataclass(frozen=True)
class DeadlineState:
    deadline: Deadline
    state: str  # pending | due | done | moot (recovered before it fell due)
    missing: tuple[str, ...] = ()  # departments (or roles) still to act


@dataclass(frozen=True)
class Obligation:
    """Somebody must be told something now."""

    role: str
    why: dict[str, str]
    article: str


@dataclass(frozen=True)
class Step:
    """A suggested next step: what to do and, when the CLI can do it, the command."""

    text: dict[str, str]
    command: str | None = None
    article: str | None = None


@dataclass(frozen=True)
class Assessment:
    now: datetime
    incident: Incident
    elapsed: timedelta  # since opening (until now)
    outage: timedelta  # opening to recovery (or now)
    deadlines: tuple[DeadlineState, ...]
    next_deadline: DeadlineState | None
    tell_now: tuple[Obligation, ...]
    paper_now: tuple[str, ...]  # departments that must be on paper now
    paper_not_noticed: tuple[str, ...]  # of those, the ones IT has not told yet (P3.6.1)
    escalation: Escalation
    steps: tuple[Step, ...]
    warnings: tuple[dict[str, str], ...]


def departments_for(org: str, configured: Sequence[Department] = ()) -> tuple[Department, ...]:
    if org == "hospital":
        return HOSPITAL_DEPARTMENTS
    return tuple(configured) or (AGENCY_DEFAULT,)


def _last(steps: Sequence[Entry], name: str) -> Entry | None:
    found = [s for s in steps if s.detail.get("step") == name]
    return found[-1] if found else None


def assess(
    incident: Incident,
    now: datetime,
    tz: ZoneInfo | None = None,
    agency_departments: Sequence[Department] = (),
) -> Assessment:
    """What the on-call person must know and do at `now` (aware datetime)."""
    tz = tz or ZoneInfo(DEFAULT_TIMEZONE)
    org, cls = incident.org, incident.cls
    esc = escalation(cls, org)
    depts = departments_for(org, agency_departments)
    states: list[DeadlineState] = []
    for dl in paper_deadlines(incident.opened, org, cls):
        if incident.resolved is not None and incident.resolved <= dl.due:
            states.append(DeadlineState(dl, "moot"))
            continue
        missing = tuple(d for d in dl.departments if d not in incident.paper)
        if now < dl.due:
            states.append(DeadlineState(dl, "pending", missing))
        else:
            states.append(DeadlineState(dl, "done" if not missing else "due", missing))
    if incident.resolved is not None:
        keys = [d.key for d in depts]
        for dl in recovery_deadlines(incident.resolved, org, cls, tz):
            if dl.key == "review":
                missing: tuple[str, ...] = () if incident.reviewed else ("review",)
            else:
                done = incident.reentered_key if dl.key == "reentry-key" else incident.reentered_all
                # Only departments that worked on paper have anything to re-enter; when none was
                # recorded, every department is asked.
                scope = [k for k in keys if k in incident.paper] or keys
                missing = tuple(k for k in scope if k not in done)
            state = "done" if not missing else ("due" if now >= dl.due else "pending")
            states.append(DeadlineState(dl, state, missing))
    upcoming = sorted((s for s in states if s.state == "pending"), key=lambda s: s.deadline.due)
    next_deadline = upcoming[0] if upcoming else None

    # Departments on paper now: every group whose threshold passed while the system is down.
    paper_now: list[str] = []
    if incident.resolved is None:
        for s in states:
            if s.deadline.key.startswith("paper-") and now >= s.deadline.due:
                paper_now += [d for d in s.deadline.departments if d not in paper_now]
    not_noticed = tuple(d for d in paper_now if d not in incident.paper)

    tell_now = tuple(_obligations(incident, esc, states, now))
    warnings = []
    if incident.suggested_cls and incident.suggested_cls != cls:
        warnings.append(
            {
                "zh": f"按症状应为{CLASS_TEXT[incident.suggested_cls]['zh']}，"
                f"当前登记为{CLASS_TEXT[cls]['zh']}："
                f"请核实（hisguard incident classify {incident.suggested_cls}）",
                "en": f"the symptoms suggest {CLASS_TEXT[incident.suggested_cls]['en']}, the incident is "
                f"{CLASS_TEXT[cls]['en']}: check it (hisguard incident classify {incident.suggested_cls})",
            }
        )
    if org == "agency" and cls == "1" and incident.resolved is None:
        warnings.append(
            {
                "zh": "卫生行政部门预案（P4.5.2）未规定转入手工操作的时限："
                "由信息中心根据预计恢复时间通知各部门（P4.6.1）",
                "en": "the agency plan (P4.5.2) sets no manual-operation thresholds: IT tells "
                "departments to go to paper by the expected recovery time (P4.6.1)",
            }
        )
    if cls == "2" and incident.resolved is None and now - incident.opened >= MIN30:
        warnings.append(
            {
                "zh": "二类故障已超过30分钟未排除：如原因不明、情况严重、短期内不能排除，"
                "应立即报告应急领导小组"
                f"（{article(org, '3')}），并考虑升级为一类故障（hisguard incident classify 1）",
                "en": "a class-2 fault still open after 30 min: if the cause is unclear, serious or "
                f"not fixable soon, report to the emergency group now ({article(org, '3')}) and "
                "consider class 1 (hisguard incident classify 1)",
            }
        )
    steps = tuple(_next_steps(incident, esc, states, not_noticed, tell_now, now))
    return Assessment(
        now=now,
        incident=incident,
        elapsed=now - incident.opened,
        outage=incident.outage(now),
        deadlines=tuple(states),
        next_deadline=next_deadline,
        tell_now=tell_now,
        paper_now=tuple(paper_now),
        paper_not_noticed=not_noticed,
        escalation=esc,
        steps=steps,
        warnings=tuple(warnings),
    )


def _obligations(incident: Incident, esc: Escalation, states: list[DeadlineState], now: datetime):
    org, told = incident.org, incident.told
    needed: list[Obligation] = []

    def need(role: str, why: dict[str, str], art: str, done: bool | None = None) -> None:
        if (role in told if done is None else done) or any(o.role == role for o in needed):
            return
        needed.append(Obligation(role, why, art))

    if incident.resolved is None:
        if incident.cls == "1":
            need(
                "it-director",
                {"zh": "一类故障由信息中心（科）主任上报", "en": "the head of IT escalates class 1"},
                esc.article,
            )
        for role in esc.report_to:
            need(role, {"zh": "按故障等级上报", "en": "escalation for this class"}, esc.article)
        if incident.cls == "1":
            need(
                "vendors",
                {
                    "zh": "技术联络组联系软、硬件供应商取得技术支持",
                    "en": "the liaison group calls the vendors for support",
                },
                article(org, "7.2"),
            )
            need(
                "departments",
                {
                    "zh": "院内协调组通知各科室故障情况，协助关键科室保存数据",
                    "en": "the coordination group tells every department and helps key ones save data",
                },
                article(org, "7.2"),
            )
        if incident.cls in ("1", "2"):
            need(
                "reporters",
                {
                    "zh": "经核实后向报告故障的工作站反馈故障信息",
                    "en": "feed the verified fault back to the reporting workstations",
                },
                article(org, "3"),
            )
    else:
        if incident.cls == "1":
            need(
                "departments",
                {
                    "zh": "通知各科室恢复运行时间：重新启动计算机，按要求补录纸质信息",
                    "en": "tell every department the system is back: restart workstations, then "
                    "re-enter paper records",
                },
                article(org, "6.7.6" if org == "hospital" else "6.2"),
                done=incident.resumed is not None,
            )
        review = next((s for s in states if s.deadline.key == "review"), None)
        if review is not None and review.state != "done" and now >= review.deadline.due - timedelta(hours=12):
            need(
                "leadership",
                {"zh": "完成故障排除报告，报院领导", "en": "the fault report goes to leadership"},
                article(org, "7.6"),
            )
    return needed


def _next_steps(incident, esc, states, not_noticed, tell_now, now):
    org = incident.org
    steps: list[Step] = []
    if tell_now:
        roles = " ".join(o.role for o in tell_now)
        command = f"hisguard incident mark told {roles}"
        if incident.resolved is not None and tell_now[0].role == "departments":
            command = "hisguard incident mark resumed"
        steps.append(
            Step(
                {
                    "zh": "立即通知：" + "、".join(ROLES[o.role].text("zh", org) for o in tell_now),
                    "en": "Tell now: " + ", ".join(ROLES[o.role].text("en", org) for o in tell_now),
                },
                command,
                tell_now[0].article,
            )
        )
    if incident.resolved is None:
        if not_noticed:
            names_zh = "、".join(DEPARTMENTS[d].zh for d in not_noticed if d in DEPARTMENTS)
            names_en = ", ".join(DEPARTMENTS[d].en for d in not_noticed if d in DEPARTMENTS)
            steps.append(
                Step(
                    {
                        "zh": f"由信息中心统一通知转入手工操作：{names_zh}",
                        "en": f"IT tells these to switch to paper now: {names_en}",
                    },
                    "hisguard incident mark paper --due",
                    "P3.6.1",
                )
            )
        if incident.cls == "3":
            steps.append(
                Step(
                    {
                        "zh": "由系统管理员单独解决，并详细登记维护情况",
                        "en": "Fix it yourself and log the maintenance in detail",
                    },
                    'hisguard incident log "..."',
                    esc.article,
                )
            )
        diagnose = _last(incident.steps, "diagnose")
        recoveries = [s for s in incident.steps if s.detail.get("step") not in ("diagnose",)]
        last_recovery = recoveries[-1] if recoveries else None
        if incident.cls in ("1", "2", "other"):
            if diagnose is None:
                steps.append(
                    Step(
                        {
                            "zh": "诊断：检查所有主机、交换机、服务、数据库、磁盘、备份和上联状态",
                            "en": "Diagnose: hosts, switches, services, database, disks, backups, uplinks",
                        },
                        "hisguard incident run diagnose",
                        article(org, "7.2"),
                    )
                )
            elif last_recovery is not None and last_recovery.time > diagnose.time:
                if last_recovery.detail.get("ok"):
                    steps.append(
                        Step(
                            {
                                "zh": "恢复操作已完成：再次诊断以确认",
                                "en": "Recovery step done: diagnose again to confirm",
                            },
                            "hisguard incident run diagnose",
                        )
                    )
                else:
                    failed = last_recovery.detail.get("step")
                    text = {
                        "zh": f"恢复操作 {failed} 失败：查看输出，联系供应商（技术联络组），"
                        "或改用其他恢复方式",
                        "en": f"Recovery step {failed} failed: read its output, call the vendor, or try "
                        "another way",
                    }
                    steps.append(Step(text, "hisguard incident run diagnose"))
            else:
                causes = diagnose.detail.get("causes") or []
                actionable = [c for c in causes if c.get("command")]
                if diagnose.detail.get("ok") and not causes:
                    steps.append(
                        Step(
                            {
                                "zh": "诊断未发现故障：确认业务已恢复后关闭故障",
                                "en": "Diagnosis finds no fault: confirm service is back, then resolve",
                            },
                            'hisguard incident resolve --summary "..."',
                        )
                    )
                for cause in actionable[:2]:
                    steps.append(
                        Step(
                            {
                                "zh": cause.get("suggestion_zh") or cause.get("key", ""),
                                "en": cause.get("suggestion_en") or cause.get("key", ""),
                            },
                            cause.get("command"),
                            cause.get("article"),
                        )
                    )
                if causes and not actionable:
                    top = causes[0]
                    steps.append(
                        Step(
                            {
                                "zh": top.get("suggestion_zh") or top.get("key", ""),
                                "en": top.get("suggestion_en") or top.get("key", ""),
                            },
                            None,
                            top.get("article"),
                        )
                    )
        nxt = next((s for s in states if s.state == "pending" and s.deadline.key.startswith("paper-")), None)
        if nxt is not None:
            steps.append(
                Step(
                    {
                        "zh": "下一时限前未恢复则：" + nxt.deadline.title["zh"],
                        "en": "If not back by the next deadline: " + nxt.deadline.title["en"],
                    },
                    None,
                    nxt.deadline.article,
                )
            )
        return steps
    # Resolved: re-entry, review, report.
    for s in states:
        if s.deadline.key in ("reentry-key", "reentry-all") and s.state != "done":
            verb = "reentered-key" if s.deadline.key == "reentry-key" else "reentered-all"
            steps.append(
                Step(
                    dict(s.deadline.title), f"hisguard incident mark {verb} DEPARTMENT...", s.deadline.article
                )
            )
            break
    if incident.reviewed is None and incident.cls in ("1", "2"):
        steps.append(
            Step(
                {
                    "zh": "组织技术研讨会：登记故障原因和预防措施",
                    "en": "Hold the technical review: record the root cause and prevention",
                },
                'hisguard incident review --root-cause "..." --prevention "..."',
                article(org, "7.6") if incident.cls == "1" else article(org, "7.1"),
            )
        )
    if not incident.reports or (incident.reviewed and incident.reports[-1].time < incident.reviewed):
        steps.append(
            Step(
                {
                    "zh": "生成故障报告（时间线、处置过程、原因、预防措施、补录清单）",
                    "en": "Write the fault report (timeline, actions, cause, prevention, re-entry checklist)",
                },
                "hisguard incident report",
                article(org, "8.4"),
            )
        )
    return steps


# ------------------------------------------------------------------------------------------- display
def local_time(moment: datetime | None, tz: ZoneInfo | None = None, seconds: bool = False) -> str:
    """`2025-06-01 11:12 (+08:00)`-style wall-clock time in `tz` (default Asia/Shanghai)."""
    if moment is None:
        return "-"
    local = moment.astimezone(tz or ZoneInfo(DEFAULT_TIMEZONE))
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) + f" {offset[:3]}:{offset[3:]}"


def duration(delta: timedelta, lang: str = "zh") -> str:
    """`1 h 05 min`/`1小时05分` (negative durations shown as their absolute value)."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if lang == "en":
        if days:
            return f"{days} d {hours} h {minutes:02d} min"
        if hours:
            return f"{hours} h {minutes:02d} min"
        return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
    if days:
        return f"{days}天{hours}小时{minutes:02d}分"
    if hours:
        return f"{hours}小时{minutes:02d}分"
    return f"{minutes}分{secs:02d}秒" if minutes else f"{secs}秒"
