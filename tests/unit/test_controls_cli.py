"""`hisguard controls ...` through the real entry point (hisguard.cli.main)."""

from __future__ import annotations

import json

import pytest
import yaml

from hisguard import cli, paths
from hisguard.catalog import load_catalog, render_markdown
from hisguard.commands.controls import display_width, format_table


@pytest.fixture
def run(monkeypatch, capsys):
    """hisguard with only the controls area registered, so other areas cannot break these tests."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("controls",))

    def invoke(*argv: str) -> tuple[int, str, str]:
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:  # argparse: usage errors
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_list_defaults_to_chinese_table(run):
    code, out, _err = run("controls", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["编号", "实现方式", "适用对象", "检查方式", "标题"]
    assert any(line.startswith("P1.3.6 ") and "内网工作站禁用移动存储介质" in line for line in lines)
    assert lines[-1] == f"共 {len(load_catalog().controls)} 项控制"


def test_list_filters_in_english(run):
    code, out, _err = run(
        "controls", "list", "--implementation", "automated", "--applies", "workstation", "--lang", "en"
    )
    assert code == 0
    rows = out.splitlines()[1:-1]
    assert rows and all(" automated " in row for row in rows)
    assert any("No removable or optical media" in row for row in rows)


def test_list_json(run):
    code, out, _err = run("controls", "list", "--applies", "workstation", "--json")
    assert code == 0
    controls = json.loads(out)
    assert controls and all("workstation" in c["applies_to"] for c in controls)
    p136 = next(c for c in controls if c["id"] == "P1.3.6")
    assert "role:removable_media" in p136["checked_by"]
    assert p136["organizations"] == ["hospital", "agency"]


def test_show(run):
    code, out, _err = run("controls", "show", "P1.3.6")
    assert code == 0
    assert out.startswith("P1.3.6\n")
    assert "role:removable_media" in out
    assert "为了防止计算机病毒的侵入" in out
    code, out, _err = run("controls", "show", "P4.5.2", "--lang", "en")
    assert code == 0
    assert "SHARED WITH     P3.5.2" in out
    assert "当发现网络整体故障时，各部门根据故障恢复时间的程度将转入手工操作。" in out


def test_show_unknown_id_exits_2(run):
    code, out, err = run("controls", "show", "P9.9.9")
    assert code == 2
    assert out == ""
    assert "hisguard: error: unknown control ID P9.9.9 (see `hisguard controls list`)" in err


def test_bad_implementation_value_exits_2(run):
    code, _out, err = run("controls", "list", "--implementation", "sometimes")
    assert code == 2
    assert "invalid choice: 'sometimes'" in err


def test_no_action_prints_usage_and_exits_2(run):
    code, _out, err = run("controls")
    assert code == 2
    assert err.startswith("usage: hisguard controls")


def test_broken_catalog_is_a_message_not_a_traceback(run, monkeypatch, tmp_path):
    catalog = yaml.safe_load(paths.catalog_file().read_text(encoding="utf-8"))
    catalog["controls"][0]["checked_by"] = ["role:no_such_role"]
    (tmp_path / "controls").mkdir()
    (tmp_path / "controls" / "catalog.yml").write_text(
        yaml.safe_dump(catalog, allow_unicode=True), encoding="utf-8"
    )
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    code, _out, err = run("controls", "list")
    assert code == 2
    assert err.strip() == (
        "hisguard: error: controls/catalog.yml: control P1.0: checked_by: role no_such_role does not exist"
        " (no roles/no_such_role/tasks/main.yml)"
    )


def test_doc_writes_and_checks(run, tmp_path):
    output = tmp_path / "controls.md"
    code, _out, err = run("controls", "doc", "--check", "--output", str(output))
    assert code == 1 and "is stale" in err
    code, out, _err = run("controls", "doc", "--output", str(output))
    assert code == 0 and "wrote" in out
    assert output.read_text(encoding="utf-8") == render_markdown(load_catalog())
    code, out, _err = run("controls", "doc", "--check", "--output", str(output))
    assert code == 0 and "up to date" in out
    output.write_text(output.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    code, _out, err = run("controls", "doc", "--check", "--output", str(output))
    assert code == 1 and "run `hisguard controls doc`" in err


def test_table_aligns_wide_characters():
    table = format_table(["ID", "TITLE"], [["P1.3.6", "内网"], ["编号很长", "x"]])
    lines = table.splitlines()
    starts = {display_width(line[: line.rindex(" ") + 1]) for line in lines}
    assert starts == {10}
