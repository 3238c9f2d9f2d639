"""hisguard.waivers: loading and validating a --waivers FILE."""

import datetime

import pytest

from hisguard import waivers
from hisguard.errors import UserError

KNOWN = {"P1.3.6", "P3.8.5"}

GOOD = """\
- control: P1.3.6
  groups: [radiology]
  reason: PACS 影像需从光盘导入
  approver: 信息科 王主任
  ticket: OA-2025-0412
  expires: 2099-12-31
- control: P3.8.5
  hosts: [db-01]
  reason: restore drill moved to next quarter
  approver: CIO
  ticket: OA-2024-0007
  expires: 2024-03-31
"""


def write(tmp_path, text, name="waivers.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_list_form(tmp_path):
    loaded = waivers.load_waivers(write(tmp_path, GOOD), control_ids=KNOWN)
    assert [w["control"] for w in loaded] == ["P1.3.6", "P3.8.5"]
    assert loaded[0]["expires"] == "2099-12-31"  # YAML dates come back as strings
    assert loaded[0]["groups"] == ["radiology"] and loaded[0]["hosts"] == []


def test_load_extravars_form_and_back(tmp_path):
    text = "hisguard_waivers:\n" + "".join(f"  {line}\n" for line in GOOD.splitlines())
    loaded = waivers.load_waivers(write(tmp_path, text), control_ids=KNOWN)
    assert len(loaded) == 2
    assert waivers.extravars(loaded) == {"hisguard_waivers": loaded}


def test_empty_file_means_no_waivers(tmp_path):
    assert waivers.load_waivers(write(tmp_path, ""), control_ids=KNOWN) == []


def test_split_expired(tmp_path):
    loaded = waivers.load_waivers(write(tmp_path, GOOD), control_ids=KNOWN)
    active, expired = waivers.split_expired(loaded, today=datetime.date(2025, 1, 1))
    assert [w["ticket"] for w in active] == ["OA-2025-0412"]
    assert [w["ticket"] for w in expired] == ["OA-2024-0007"]


def test_missing_field_is_a_clear_error(tmp_path):
    path = write(tmp_path, GOOD.replace("  approver: CIO\n", ""))
    with pytest.raises(UserError) as info:
        waivers.load_waivers(path, control_ids=KNOWN)
    message = info.value.message
    assert str(path) in message
    assert "waiver #2 (control P3.8.5, ticket OA-2024-0007)" in message
    assert "missing field(s) approver" in message


def test_unknown_control_is_a_clear_error(tmp_path):
    path = write(tmp_path, GOOD.replace("control: P3.8.5", "control: P3.8.99"))
    with pytest.raises(UserError, match=r"waiver #2 .*unknown control ID 'P3\.8\.99'"):
        waivers.load_waivers(path, control_ids=KNOWN)


def test_default_ids_come_from_the_catalog(tmp_path, monkeypatch):
    monkeypatch.setattr(waivers, "catalog_control_ids", lambda: frozenset({"P1.3.6"}))
    with pytest.raises(UserError, match=r"unknown control ID 'P3\.8\.5'"):
        waivers.load_waivers(write(tmp_path, GOOD))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- control: [unclosed\n", "is not valid YAML"),
        ("waivers:\n  - control: P1.3.6\n", "single key `hisguard_waivers`"),
        ("just a string\n", "must be a list"),
    ],
)
def test_bad_files_name_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        waivers.load_waivers(path, control_ids=KNOWN)
    assert str(path) in info.value.message and message in info.value.message


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        waivers.load_waivers(tmp_path / "nope.yml", control_ids=KNOWN)
