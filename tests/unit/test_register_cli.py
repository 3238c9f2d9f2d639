"""`hisguard register`: bad input is refused before anything runs (message, exit 2)."""

import pytest

from hisguard.cli import main


def test_missing_register_file(tmp_path, capsys):
    assert main(["register", "assets", "--reconcile", str(tmp_path / "none.csv")]) == 2
    assert "none.csv does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"x,y\n1,2\n", "no host column (主机名 or Host)"),
        (b"\xff\xfe\x00\x00\xff", "neither UTF-8 nor GB18030"),
    ],
)
def test_unusable_register_file(tmp_path, capsys, content, message):
    register = tmp_path / "register.csv"
    register.write_bytes(content)
    assert main(["register", "assets", "--reconcile", str(register)]) == 2
    assert message in capsys.readouterr().err


def test_unknown_language():
    with pytest.raises(SystemExit) as exit_:
        main(["register", "assets", "--lang", "fr"])
    assert exit_.value.code == 2
