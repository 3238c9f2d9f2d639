"""hisguard.incident: classification from the regulation's own examples, escalation per class, deadlines
(across midnight in Asia/Shanghai), hospital vs agency, and what `incident status` says at each moment."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hisguard import incident as m

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime:
    """A wall-clock time in Shanghai, as an aware UTC datetime."""
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


def entry(action, when, actor="wang", **detail):
    return m.Entry(when, actor, action, detail)


def opened(when, cls="1", org="hospital", **extra):
    return entry(
        "incident.open", when, id="INC-20250601T000000Z-abcd", org=org, summary="s", **{"class": cls}, **extra
    )


# ---------------------------------------------------------------------------------- classification
# 第四章: every example of each class, in the regulation's own words.
HOSPITAL_EXAMPLES = {
    "1": [
        "服务器不能正常工作",
        "光纤损坏",
        "主服务器数据丢失",
        "备份硬盘损坏",
        "服务器工作不稳定",
        "局部网络不通",
        "价表目录被人删除或修改",
        "重点终端故障",
        "规律性的整体、局部软件和硬件故障",
        "网络瘫痪",
    ],
    "2": [
        "单一终端软、硬件故障",
        "单一病人信息丢失",
        "偶然性的数据处理错误",
        "某些科室违反工作流程引起系统故障",
    ],
    "3": ["各终端操作不熟练或使用不当造成的错误"],
    "other": ["医保线路、医保端引起的医保系统故障"],
}


@pytest.mark.parametrize("cls,text", [(c, t) for c, texts in HOSPITAL_EXAMPLES.items() for t in texts])
def test_each_example_of_chapter_4_gets_its_class(cls, text):
    result = m.classify([text], "hospital")
    assert result.cls == cls
    assert result.basis[0].cls == cls


def test_symptom_keys_and_aliases_classify_too():
    assert m.classify(["fiber-cut"], "hospital").cls == "1"
    assert m.classify(["his-db-down"], "hospital").cls == "1"
    assert m.classify(["access-switch-dead"], "hospital").cls == "1"
    assert m.classify(["Operator-Error"], "hospital").cls == "3"
    assert m.classify(["单一信息丢失"], "agency").cls == "2"


def test_the_most_severe_class_wins():
    assert m.classify(["operator-error", "single-terminal-fault"], "hospital").cls == "2"
    assert m.classify(["single-terminal-fault", "insurance-line-fault"], "hospital").cls == "other"
    assert m.classify(["insurance-line-fault", "fiber-cut", "operator-error"], "hospital").cls == "1"


def test_report_symptoms_of_chapter_3_need_a_scope():
    undecided = m.classify(["不能访问网络"], "hospital")
    assert undecided.cls is None and undecided.undecided == ("no-network",)
    single = m.classify(["no-network"], "hospital", scope="single")
    assert single.cls == "2" and single.basis[0].via == "single-terminal-fault"
    several = m.classify(["no-network"], "hospital", scope="several")
    assert several.cls == "1" and several.basis[0].via == "local-network-outage"
    everywhere = m.classify(["no-network"], "hospital", scope="all")
    assert everywhere.basis[0].via == "network-paralysed"
    assert (
        m.classify(["访问数据库速度迟缓"], "hospital", scope="department").basis[0].via == "server-unstable"
    )
    assert m.classify(["cannot-save"], "agency", scope="all").basis[0].via == "server-down"


def test_unknown_symptom_and_scope_are_errors_that_name_the_known_ones():
    with pytest.raises(m.IncidentModelError, match="known symptoms: server-down"):
        m.classify(["printer jam"], "hospital")
    with pytest.raises(m.IncidentModelError, match="scope"):
        m.classify(["no-network"], "hospital", scope="ward")


def test_agency_plan_has_no_price_catalogue_and_no_other_class():
    # 第四部分 第四章: the price catalogue is not among class-1 examples, and there is no 其它故障.
    with pytest.raises(m.IncidentModelError, match="hospital plan only"):
        m.classify(["价表目录被人删除或修改"], "agency")
    with pytest.raises(m.IncidentModelError, match="hospital plan only"):
        m.classify(["insurance-line-fault"], "agency")
    with pytest.raises(m.IncidentModelError, match="classes 1, 2 and 3 only"):
        m.check_class("other", "agency")
    assert m.check_class("other", "hospital") == "other"
    assert m.classify(["光纤损坏"], "agency").cls == "1"


# --------------------------------------------------------------------------------------- escalation
def test_escalation_per_class_follows_the_handling_principles():
    one = m.escalation("1", "hospital")
    assert (one.reporter, one.report_to, one.article) == ("it-director", ("emergency-leader",), "P3.4")
    assert "院应急小组领导" in one.rule["zh"] and "医院应急领导小组" in one.rule["zh"]
    two = m.escalation("2", "hospital")
    assert (two.reporter, two.report_to) == ("sysadmin", ("it-director",))
    three = m.escalation("3", "hospital")
    assert three.report_to == () and "详细登记维护情况" in three.rule["zh"]
    other = m.escalation("other", "hospital")
    assert other.report_to == ("finance", "insurance-office", "outpatient-office")


def test_agency_escalation_names_the_bureau_and_part_4():
    one = m.escalation("1", "agency")
    assert one.article == "P4.4"
    assert "厅（局）应急小组领导" in one.rule["zh"] and "院" not in one.rule["zh"].replace("医院", "")
    assert "厅（局）" in m.ROLES["emergency-leader"].text("zh", "agency")


# ---------------------------------------------------------------------------------------- deadlines
def test_paper_deadlines_are_30_min_6_h_24_h_with_their_departments():
    t0 = local(2025, 6, 1, 10, 0)
    dls = {d.key: d for d in m.paper_deadlines(t0, "hospital", "1")}
    assert dls["paper-30min"].due == t0 + timedelta(minutes=30)
    assert dls["paper-6h"].due == t0 + timedelta(hours=6)
    assert dls["paper-24h"].due == t0 + timedelta(hours=24)
    assert set(dls["paper-30min"].departments) == {
        "outpatient-registration",
        "outpatient-billing",
        "admission",
        "outpatient-doctors",
        "pharmacy",
    }
    assert set(dls["paper-6h"].departments) == {
        "inpatient-doctors",
        "nurse-stations",
        "operating-rooms",
        "medical-technology",
    }
    assert "discharge-settlement" in dls["paper-24h"].departments
    assert all(d.article == "P3.5.2" for d in dls.values())


def test_only_class_1_at_a_hospital_has_paper_deadlines():
    t0 = local(2025, 6, 1, 10, 0)
    assert m.paper_deadlines(t0, "hospital", "2") == []
    assert m.paper_deadlines(t0, "hospital", "other") == []
    assert m.paper_deadlines(t0, "agency", "1") == []  # P4.5.2 names no threshold


def test_paper_deadlines_across_midnight_in_shanghai():
    t0 = local(2025, 6, 1, 23, 50)  # 15:50 UTC
    inc = m.replay([opened(t0)])
    first = {d.key: d for d in m.paper_deadlines(t0, "hospital", "1")}["paper-30min"]
    assert m.local_time(first.due) == "2025-06-02 00:20 +08:00"
    assert first.due == datetime(2025, 6, 1, 16, 20, tzinfo=UTC)
    before = m.assess(inc, local(2025, 6, 2, 0, 19))
    assert before.paper_now == () and before.next_deadline.deadline.key == "paper-30min"
    after = m.assess(inc, local(2025, 6, 2, 0, 21))
    assert "pharmacy" in after.paper_now and after.next_deadline.deadline.key == "paper-6h"
    assert m.local_time(after.next_deadline.deadline.due) == "2025-06-02 05:50 +08:00"


def test_reentry_deadlines_are_local_days_across_midnight():
    tz = SHANGHAI
    # Recovered at 23:30 Shanghai (15:30 UTC): key data by midnight, 30 minutes later.
    dls = {d.key: d for d in m.recovery_deadlines(local(2025, 6, 1, 23, 30), "hospital", "1", tz)}
    assert m.local_time(dls["reentry-key"].due) == "2025-06-02 00:00 +08:00"
    assert m.local_time(dls["reentry-all"].due) == "2025-06-03 00:00 +08:00"
    assert dls["review"].due == local(2025, 6, 3, 23, 30)
    # Recovered at 00:10 Shanghai: the UTC date is still the previous day, the local day is the new one.
    early = local(2025, 6, 2, 0, 10)
    assert early.date().day == 1  # 16:10 UTC on June 1st
    dls = {d.key: d for d in m.recovery_deadlines(early, "hospital", "1", tz)}
    assert m.local_time(dls["reentry-key"].due) == "2025-06-03 00:00 +08:00"
    assert m.local_time(dls["reentry-all"].due) == "2025-06-04 00:00 +08:00"
    # The same moment seen from UTC would give other days: the timezone matters.
    utc_dls = {d.key: d for d in m.recovery_deadlines(early, "hospital", "1", ZoneInfo("UTC"))}
    assert utc_dls["reentry-key"].due == datetime(2025, 6, 2, 0, 0, tzinfo=UTC)
    assert dls["reentry-key"].due != utc_dls["reentry-key"].due


def test_agency_recovery_deadlines_cite_part_4():
    dls = m.recovery_deadlines(local(2025, 6, 1, 12, 0), "agency", "1", SHANGHAI)
    assert {d.article for d in dls} == {"P4.7.4", "P4.7.6"}
    assert m.recovery_deadlines(local(2025, 6, 1, 12, 0), "agency", "2", SHANGHAI) == []


# ---------------------------------------------------------------------------------------- assessment
def test_status_at_each_moment_of_a_class_1_fault():
    t0 = local(2025, 6, 1, 9, 0)
    entries = [opened(t0)]
    a = m.assess(m.replay(entries), t0 + timedelta(minutes=1))
    assert [o.role for o in a.tell_now][:2] == ["it-director", "emergency-leader"]
    assert {"vendors", "departments", "reporters"} <= {o.role for o in a.tell_now}
    assert a.steps[0].command.startswith("hisguard incident mark told it-director emergency-leader")
    assert any(s.command == "hisguard incident run diagnose" for s in a.steps)

    entries.append(
        entry(
            "incident.mark",
            t0 + timedelta(minutes=2),
            what="told",
            items=["it-director", "emergency-leader", "vendors", "departments", "reporters"],
        )
    )
    a = m.assess(m.replay(entries), t0 + timedelta(minutes=3))
    assert a.tell_now == ()
    assert a.steps[0].command == "hisguard incident run diagnose"

    causes = [
        {
            "key": "uplink-down",
            "command": "hisguard incident run failover-uplink --device core-sw-01 --apply",
            "suggestion_zh": "切换到备用上联",
            "suggestion_en": "fail over",
            "article": "P3.8.3",
        }
    ]
    entries.append(entry("incident.run", t0 + timedelta(minutes=5), step="diagnose", ok=True, causes=causes))
    a = m.assess(m.replay(entries), t0 + timedelta(minutes=6))
    assert a.steps[0].command == "hisguard incident run failover-uplink --device core-sw-01 --apply"

    # 35 minutes in: the 30-minute departments must be on paper, and IT must tell them (P3.6.1).
    a = m.assess(m.replay(entries), t0 + timedelta(minutes=35))
    assert "outpatient-billing" in a.paper_now and a.paper_not_noticed == a.paper_now
    assert a.steps[0].command == "hisguard incident mark paper --due"
    assert next(s for s in a.deadlines if s.deadline.key == "paper-30min").state == "due"
    entries.append(entry("incident.mark", t0 + timedelta(minutes=36), what="paper", items=list(a.paper_now)))
    a = m.assess(m.replay(entries), t0 + timedelta(minutes=37))
    assert a.paper_not_noticed == ()
    assert next(s for s in a.deadlines if s.deadline.key == "paper-30min").state == "done"

    entries.append(entry("incident.run", t0 + timedelta(minutes=40), step="failover-uplink", ok=True))
    a = m.assess(m.replay(entries), t0 + timedelta(minutes=41))
    assert a.steps[0].command == "hisguard incident run diagnose"  # verify the recovery
    entries.append(entry("incident.run", t0 + timedelta(minutes=42), step="diagnose", ok=True, causes=[]))
    a = m.assess(m.replay(entries), t0 + timedelta(minutes=43))
    assert a.steps[0].command.startswith("hisguard incident resolve")

    entries.append(entry("incident.resolve", t0 + timedelta(minutes=44)))
    inc = m.replay(entries)
    a = m.assess(inc, t0 + timedelta(minutes=45))
    assert inc.phase == "resolved" and a.paper_now == ()
    assert next(s for s in a.deadlines if s.deadline.key == "paper-6h").state == "moot"
    assert [o.role for o in a.tell_now] == ["departments"]  # the resume notice
    key = next(s for s in a.deadlines if s.deadline.key == "reentry-key")
    assert set(key.missing) == set(inc.paper)  # only the departments that were on paper re-enter
    assert any(s.command == "hisguard incident mark reentered-key DEPARTMENT..." for s in a.steps)


def test_reentered_all_implies_key_and_review_needs_cause_and_prevention():
    t0 = local(2025, 6, 1, 9, 0)
    entries = [
        opened(t0),
        entry("incident.resolve", t0 + timedelta(hours=1)),
        entry(
            "incident.mark",
            t0 + timedelta(hours=2),
            what="reentered-all",
            items=[d.key for d in m.HOSPITAL_DEPARTMENTS],
        ),
        entry("incident.review", t0 + timedelta(hours=3), root_cause="fibre cut by works"),
    ]
    inc = m.replay(entries)
    a = m.assess(inc, t0 + timedelta(hours=4))
    states = {s.deadline.key: s.state for s in a.deadlines}
    assert states["reentry-key"] == states["reentry-all"] == "done"
    assert states["review"] == "pending" and inc.reviewed is None
    entries.append(entry("incident.review", t0 + timedelta(hours=5), prevention="second route"))
    inc = m.replay(entries)
    assert inc.reviewed == t0 + timedelta(hours=5)
    assert {s.deadline.key: s.state for s in m.assess(inc, t0 + timedelta(hours=6)).deadlines}[
        "review"
    ] == "done"
    overdue = m.assess(m.replay(entries[:3]), t0 + timedelta(hours=1, days=2, minutes=1))
    assert {s.deadline.key: s.state for s in overdue.deadlines}["review"] == "due"


def test_class_2_still_open_after_30_minutes_suggests_escalating():
    t0 = local(2025, 6, 1, 9, 0)
    inc = m.replay([opened(t0, cls="2")])
    assert m.assess(inc, t0 + timedelta(minutes=29)).warnings == ()
    warning = m.assess(inc, t0 + timedelta(minutes=31)).warnings[0]
    assert "P3.3" in warning["zh"] and "classify 1" in warning["en"]
    assert [o.role for o in m.assess(inc, t0).tell_now] == ["it-director", "reporters"]


def test_agency_class_1_has_no_paper_thresholds_and_says_so():
    t0 = local(2025, 6, 1, 9, 0)
    a = m.assess(m.replay([opened(t0, org="agency")]), t0 + timedelta(hours=30))
    assert a.paper_now == () and a.next_deadline is None
    assert any("P4.5.2" in w["en"] and "no manual-operation thresholds" in w["en"] for w in a.warnings)
    assert a.escalation.article == "P4.4"
    assert {o.article for o in a.tell_now} >= {"P4.4", "P4.7.2", "P4.3"}


def test_class_3_is_fixed_and_logged_by_the_administrator_alone():
    t0 = local(2025, 6, 1, 9, 0)
    a = m.assess(m.replay([opened(t0, cls="3")]), t0 + timedelta(minutes=5))
    assert a.tell_now == () and a.deadlines == ()
    assert a.steps[0].command == 'hisguard incident log "..."'


def test_symptoms_that_disagree_with_the_declared_class_warn():
    t0 = local(2025, 6, 1, 9, 0)
    inc = m.replay([opened(t0, cls="2", suggested_class="1")])
    assert any("classify 1" in w["en"] for w in m.assess(inc, t0).warnings)
    inc = m.replay(
        [opened(t0, cls="2", suggested_class="1"), entry("incident.classify", t0, **{"class": "1"})]
    )
    assert inc.cls == "1" and not any("classify" in w["en"] for w in m.assess(inc, t0).warnings)


def test_replay_keeps_unknown_actions_and_needs_an_open_entry():
    t0 = local(2025, 6, 1, 9, 0)
    inc = m.replay([opened(t0), entry("failover.uplink.apply", t0, device="core-sw-01")])
    assert inc.cls == "1"
    with pytest.raises(m.TimelineError):
        m.replay([entry("incident.log", t0, message="x")])


def test_entry_json_round_trip_and_times():
    e = m.entry_from_json(
        {"time": "2025-06-01T01:02:03.123456+00:00", "actor": None, "action": "x", "detail": 5}
    )
    assert e.detail == {"value": 5} and e.time.tzinfo is not None
    assert m.entry_from_json({"time": "2025-06-01T01:02:03Z", "action": "x"}).time == datetime(
        2025, 6, 1, 1, 2, 3, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        m.entry_from_json({"action": "x"})
    assert m.duration(timedelta(hours=1, minutes=5), "en") == "1 h 05 min"
    assert m.duration(timedelta(days=1, hours=2), "zh") == "1天2小时00分"
