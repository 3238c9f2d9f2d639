"""The machine-room log and the weekly log review: items from results, the append-only store, the printable
reports, the review period and record, the sign-off."""

from datetime import UTC, datetime

import pytest

from hisguard.cli import main
from hisguard.errors import UserError
from hisguard.inspection import items_from_results, overall_status
from hisguard.logreview import build_record, period
from hisguard.report.inspection import render_log
from hisguard.report.log_review import render_review
from hisguard.results import Result
from hisguard.store import Store


def ups_result(status: str, item_status: str) -> Result:
    item = {
        "item": "ups",
        "subject": "lab-ups",
        "control": "P2.7.3",
        "status": item_status,
        "summary": f"UPS lab-ups {item_status}",
        "detail": {"charge": 64},
    }
    return Result(host="srv-backup", control="P2.7.3", status=status, evidence={"items": [item]})


def test_items_from_results_keep_every_item_and_name_silent_hosts():
    results = [
        ups_result("fail", "alarm"),
        Result(host="srv-his", control="P2.4.8", status="error", observed="x"),
    ]
    items = items_from_results(results, {"dark": {"mirror": 1}}, ["srv-backup", "srv-his", "ws-01"])
    assert [(i["host"], i["item"], i["status"]) for i in items] == [
        ("srv-backup", "ups", "alarm"),
        ("srv-his", "inspection", "error"),
        ("mirror", "inspection", "error"),
        ("ws-01", "inspection", "error"),
    ]
    assert "unreachable" in items[2]["summary"]
    assert overall_status(items) == "alarm"
    assert overall_status([{"status": "ok"}, {"status": "not_applicable"}]) == "ok"
    assert overall_status([{"status": "ok"}, {"status": "warning"}]) == "warning"


def entry(status: str) -> dict:
    items = items_from_results([ups_result("pass" if status == "ok" else "fail", status)], {}, [])
    return {
        "kind": "daily",
        "started": "2026-11-27T08:00:00+00:00",
        "finished": "2026-11-27T08:00:30+00:00",
        "inspector": "张三",
        "status": overall_status(items),
        "notes": "门窗已关",
        "runner_ident": "20261127T080000Z-abcdef",
        "items": items,
    }


def test_machine_room_log_is_append_only_and_printable(tmp_path):
    db = tmp_path / "hisguard.db"
    with Store(db) as store:
        first = store.save_inspection(entry("ok"))
        store.save_inspection(entry("alarm"))
        logged = store.inspections()
        assert [e["status"] for e in logged] == ["ok", "alarm"]
        assert logged[1]["items"][0]["detail"] == {"charge": 64}
        assert store.inspections(since="2026-11-28") == []
        with pytest.raises(Exception, match="append-only"):
            store.db.execute("DELETE FROM inspections WHERE id = ?", (first,))
        with pytest.raises(Exception, match="append-only"):
            store.db.execute("UPDATE inspection_items SET status = 'ok'")
    html = render_log(logged, "html", "zh", since="2026-11-01")
    assert "机房日志" in html and "巡检人签字" in html and html.count('data-item="ups"') == 2
    assert 'data-status="alarm"' in html and "机房负责人审核签字" in html
    text = render_log(logged, "text", "en")
    assert "Machine-room log" in text and "[ALARM] srv-backup UPS: UPS lab-ups alarm" in text
    assert "Inspector's signature" in text
    assert "No inspection" in render_log([], "text", "en")


def test_inspect_log_command(tmp_path, capsys):
    db = str(tmp_path / "hisguard.db")
    with Store(db) as store:
        store.save_inspection(entry("alarm"))
    assert main(["inspect", "log", "--db", db, "--lang", "en"]) == 0
    assert "[ALARM]" in capsys.readouterr().out
    assert main(["inspect", "log", "--db", db, "--since", "27.11.2026"]) == 2
    assert "--since must be a date" in capsys.readouterr().err


def test_period():
    now = datetime(2026, 11, 27, 12, 0, 0, 500000, tzinfo=UTC)
    start, end = period(None, None, now)
    assert end.isoformat() == "2026-11-27T12:00:01+00:00" and start.isoformat() == "2026-11-20T12:00:01+00:00"
    start, end = period("2026-11-01", "2026-11-08")
    assert (start.isoformat(), end.isoformat()) == ("2026-11-01T00:00:00+00:00", "2026-11-08T00:00:00+00:00")
    with pytest.raises(UserError, match="before"):
        period("2026-11-08", "2026-11-01")
    with pytest.raises(UserError, match="--since"):
        period("last week", None)


def review_result(host: str, collected: bool = True) -> Result:
    review = {
        "collected": collected,
        "source": "journal",
        "kernel_log_visible": False,
        "notes": ["no kernel log is visible here"],
        "counts": {"auth_failures": 1, "sudo": 0, "new_accounts": 0, "failed_units": 0, "kernel_errors": 0},
        "categories": {
            "auth_failures": {
                "count": 1,
                "lines": [{"time": "2026-11-27T15:11:18+00:00", "text": "sshd: Invalid user x"}],
            }
        },
    }
    return Result(host=host, control="P2.4.10", status="pass", evidence={"review": review})


def test_review_record_sign_off_and_report(tmp_path):
    since, until = period("2026-11-20", "2026-11-27")
    record = build_record(
        [review_result("srv-his"), Result(host="srv-his", control="P2.5.2", status="pass")],
        {"dark": {"mirror": 1}},
        since,
        until,
        "李四",
        "20261127T000000Z-abcdef",
    )
    assert record["status"] == "partial" and [h["host"] for h in record["hosts"]] == ["srv-his", "mirror"]
    assert record["totals"]["auth_failures"] == 1 and record["hosts"][1]["collected"] is False
    assert record["hosts"][0]["categories"]["sudo"] == {"count": 0, "lines": []}
    with Store(tmp_path / "hisguard.db") as store:
        review_id = store.save_log_review(record, None, str(tmp_path / "r"))
        store.sign_log_review(review_id, "李四", "测试来源，无需处理")
        with pytest.raises(UserError, match="was signed by 李四"):
            store.sign_log_review(review_id, "王五", None)
        with pytest.raises(Exception, match="kept"):
            store.db.execute("DELETE FROM log_reviews")
        review = store.log_review()
    assert review["signed_by"] == "李四" and review["actions"] == "测试来源，无需处理"
    html = render_review(review, "html", "zh")
    assert (
        "每周服务器日志检查记录" in html and "sshd: Invalid user x" in html and "测试来源，无需处理" in html
    )
    assert "Weekly server log review" in render_review(review, "html", "en")
    assert '"signed_by": "李四"' in render_review(review, "json", "en")


def test_logreview_commands_without_a_review(tmp_path, capsys):
    db = str(tmp_path / "hisguard.db")
    assert main(["logreview", "report", "--db", db]) == 2  # no store yet
    Store(db).close()
    assert main(["logreview", "list", "--db", db]) == 0
    assert "no log review kept yet" in capsys.readouterr().out
    assert main(["logreview", "signoff", "--by", "x", "--db", db]) == 2
    assert "no log review yet" in capsys.readouterr().err
