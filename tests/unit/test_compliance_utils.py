"""plugins/module_utils/compliance.py: status, waiver validation and matching, catalog IDs."""

import datetime
import os

import pytest

from hisguard.results import compliance as cu

TODAY = datetime.date(2025, 6, 15)
KNOWN = frozenset({"P1.3.6", "P3.8.5", "P1.3.9"})


def waiver(**overrides):
    base = {
        "control": "P1.3.6",
        "hosts": ["ws-01"],
        "reason": "PACS viewer needs the CD drive",
        "approver": "王主任",
        "ticket": "OA-2025-0412",
        "expires": "2025-12-31",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("passed", "status", "expected"),
    [
        (True, None, "pass"),
        (False, None, "fail"),
        (None, "error", "error"),
        (None, "not_applicable", "not_applicable"),
    ],
)
def test_compute_status(passed, status, expected):
    assert cu.compute_status(passed, status) == expected


@pytest.mark.parametrize(
    ("passed", "status", "message"),
    [
        (None, None, "is required"),
        (True, "error", "not both"),
        (None, "pass", "must be one of"),
        ("yes", None, "true or false"),
    ],
)
def test_compute_status_rejects(passed, status, message):
    with pytest.raises(cu.ComplianceError, match=message):
        cu.compute_status(passed, status)


def test_combine_statuses_most_severe_wins():
    assert cu.combine_statuses(["pass", "fail", "waived"]) == "fail"
    assert cu.combine_statuses(["pass", "error"]) == "error"
    assert cu.combine_statuses(["pass", "waived"]) == "waived"
    assert cu.combine_statuses(["not_applicable", "pass"]) == "pass"
    assert cu.combine_statuses([]) == "not_applicable"


def test_compliance_percent_excludes_waived_and_not_applicable():
    assert cu.compliance_percent({"pass": 3, "fail": 1, "waived": 5, "not_applicable": 9}) == 75.0
    assert cu.compliance_percent({"pass": 1, "error": 2}) == 33.3
    assert cu.compliance_percent({"waived": 2}) is None


# --------------------------------------------------------------------------- waiver validation


def test_validate_waiver_normalizes():
    result = cu.validate_waiver(waiver(expires=datetime.date(2025, 12, 31), groups="radiology", ticket=4412))
    assert result["expires"] == "2025-12-31"
    assert result["groups"] == ["radiology"]
    assert result["hosts"] == ["ws-01"]
    assert result["ticket"] == "4412"


@pytest.mark.parametrize("field", ["control", "reason", "approver", "ticket", "expires"])
def test_missing_field_names_the_waiver_and_field(field):
    broken = waiver(**{field: None})
    with pytest.raises(cu.ComplianceError) as info:
        cu.validate_waivers([waiver(ticket="OK-1"), broken], KNOWN)
    message = str(info.value)
    assert message.startswith("waiver #2")
    assert f"missing field(s) {field}" in message


def test_unknown_control_is_an_error():
    with pytest.raises(
        cu.ComplianceError, match=r"waiver #1 \(control P9\.9\.9, ticket OA-2025-0412\).*unknown control ID"
    ):
        cu.validate_waivers([waiver(control="P9.9.9")], KNOWN)


def test_waiver_needs_hosts_or_groups():
    with pytest.raises(cu.ComplianceError, match="hosts` and/or `groups"):
        cu.validate_waiver(waiver(hosts=None))


def test_waiver_bad_date_and_unknown_field():
    with pytest.raises(cu.ComplianceError, match="YYYY-MM-DD"):
        cu.validate_waiver(waiver(expires="31/12/2025"))
    with pytest.raises(cu.ComplianceError, match=r"unknown field.*expiry"):
        cu.validate_waiver({**waiver(), "expiry": "2025-12-31"})
    with pytest.raises(cu.ComplianceError, match="must be a list"):
        cu.validate_waivers({"control": "P1.3.6"})


def test_validate_waivers_none_is_empty():
    assert cu.validate_waivers(None, KNOWN) == []


# --------------------------------------------------------------------------- matching and expiry


def test_waiver_covers_hosts_groups_and_globs():
    by_host = cu.validate_waiver(waiver(hosts=["ws-0*"]))
    by_group = cu.validate_waiver(waiver(hosts=None, groups=["radiology"]))
    everyone = cu.validate_waiver(waiver(hosts=None, groups=["all"]))
    assert cu.waiver_covers(by_host, "P1.3.6", "ws-07", [])
    assert not cu.waiver_covers(by_host, "P1.3.6", "srv-01", [])
    assert not cu.waiver_covers(by_host, "P3.8.5", "ws-07", [])
    assert cu.waiver_covers(by_group, "P1.3.6", "srv-01", ["servers", "radiology"])
    assert not cu.waiver_covers(by_group, "P1.3.6", "srv-01", ["servers"])
    assert cu.waiver_covers(everyone, "P1.3.6", "anything", [])


def test_waiver_is_valid_through_its_expiry_day():
    w = cu.validate_waiver(waiver(expires="2025-06-15"))
    assert not cu.waiver_expired(w, TODAY)
    assert cu.waiver_expired(w, TODAY + datetime.timedelta(days=1))


def test_apply_waivers():
    valid = cu.validate_waiver(waiver(ticket="VALID"))
    expired = cu.validate_waiver(waiver(ticket="OLD", expires="2025-01-31"))
    # a valid waiver turns fail and error into waived
    assert cu.apply_waivers("fail", "P1.3.6", "ws-01", [], [valid], TODAY) == ("waived", valid, None)
    assert cu.apply_waivers("error", "P1.3.6", "ws-01", [], [valid], TODAY)[0] == "waived"
    # a pass stays a pass
    assert cu.apply_waivers("pass", "P1.3.6", "ws-01", [], [valid], TODAY) == ("pass", None, None)
    # an expired waiver does not waive, and is reported
    assert cu.apply_waivers("fail", "P1.3.6", "ws-01", [], [expired], TODAY) == ("fail", None, expired)
    # a valid waiver wins over an expired one
    assert cu.apply_waivers("fail", "P1.3.6", "ws-01", [], [expired, valid], TODAY) == ("waived", valid, None)
    # other hosts and controls are untouched
    assert cu.apply_waivers("fail", "P1.3.6", "ws-02", [], [valid], TODAY) == ("fail", None, None)
    assert cu.apply_waivers("fail", "P3.8.5", "ws-01", [], [valid], TODAY) == ("fail", None, None)


def test_build_result_rejects_unknown_status():
    record = cu.build_result("ws-01", "P1.3.6", "pass", observed="x")
    assert record["evidence"] == {} and record["waiver"] is None
    with pytest.raises(cu.ComplianceError):
        cu.build_result("ws-01", "P1.3.6", "ok")


# --------------------------------------------------------------------------- catalog


def test_load_catalog_ids(tmp_path):
    path = tmp_path / "catalog.yml"
    path.write_text(
        "controls:\n  - {id: P1.3.6, title: {zh: 禁止U盘, en: No USB}}\n  - id: P3.8.5\n", encoding="utf-8"
    )
    assert cu.load_catalog_ids(path) == {"P1.3.6", "P3.8.5"}


def test_load_catalog_ids_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.yml"
    with pytest.raises(cu.ComplianceError, match=f"{missing} does not exist"):
        cu.load_catalog_ids(missing)
    bad = tmp_path / "bad.yml"
    bad.write_text("controls: [\n", encoding="utf-8")
    with pytest.raises(cu.ComplianceError, match=f"{bad} is not valid YAML"):
        cu.load_catalog_ids(bad)
    no_id = tmp_path / "noid.yml"
    no_id.write_text("controls:\n  - title: x\n", encoding="utf-8")
    with pytest.raises(cu.ComplianceError, match=r"entry #1 .* has no `id`"):
        cu.load_catalog_ids(no_id)
    wrong = tmp_path / "wrong.yml"
    wrong.write_text("- id: P1\n", encoding="utf-8")
    with pytest.raises(cu.ComplianceError, match="`controls:` list"):
        cu.load_catalog_ids(wrong)


def test_catalog_ids_are_cached_until_the_file_changes(tmp_path):
    path = tmp_path / "catalog.yml"
    path.write_text("controls:\n  - id: P1.3.6\n", encoding="utf-8")
    first = cu.catalog_ids(path)
    assert cu.catalog_ids(path) is first
    path.write_text("controls:\n  - id: P1.3.6\n  - id: P1.3.8\n", encoding="utf-8")
    os.utime(path, (1, 1))  # a different mtime even within the file system's resolution
    assert cu.catalog_ids(path) == {"P1.3.6", "P1.3.8"}


def test_catalog_path_follows_the_environment(tmp_path):
    assert cu.catalog_path({"HISGUARD_CATALOG": str(tmp_path / "c.yml")}) == str(tmp_path / "c.yml")
    assert cu.catalog_path({}).endswith(os.path.join("controls", "catalog.yml"))


# --------------------------------------------------------------------------- tags

ANTIVIRUS = ["P1.3.8", "P1.4.14", "P2.5.1", "P2.5.4"]


@pytest.mark.parametrize(
    ("run", "skip", "expected"),
    [
        (None, None, ANTIVIRUS),
        (["all"], [], ANTIVIRUS),
        (["tagged"], [], ANTIVIRUS),
        (["antivirus"], [], ANTIVIRUS),
        (["P1.4.14"], [], ["P1.4.14"]),
        (["P2.5.4", "P1.3.8"], [], ["P1.3.8", "P2.5.4"]),
        (["all"], ["P2.5.1"], ["P1.3.8", "P1.4.14", "P2.5.4"]),
        (["P1.3.6"], [], []),
    ],
)
def test_selected_controls_follow_tags(run, skip, expected):
    assert cu.selected_controls(ANTIVIRUS, run, skip, ["antivirus"]) == expected


def test_failed_checks_reads_the_message_of_failed_checks_only():
    class Unrendered(dict):
        def __getitem__(self, key):
            if key == "msg" and dict.__getitem__(self, "ok") in (True, "True", "true"):
                raise AssertionError("the message of a passing check was read")
            return dict.__getitem__(self, key)

    checks = [
        Unrendered(ok=True, msg="never read"),
        Unrendered(ok="False", msg=" a_var must be a path. "),
        Unrendered(ok=False, msg="b_var must be set."),
        Unrendered(ok="True", msg="never read"),
    ]
    assert cu.failed_checks(checks) == ["a_var must be a path.", "b_var must be set."]
    assert cu.failed_checks([]) == []
