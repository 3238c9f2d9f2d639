"""plugins/modules/restic.py: parameter checks that run before restic does (no Ansible run)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.hisguard.infosec.plugins.modules import restic as module  # noqa: E402


def params(**overrides) -> dict:
    base = {
        "command": "snapshots",
        "paths": [],
        "target": None,
        "retention": None,
        "from_repository": None,
        "from_password_file": None,
        "from_password": None,
        "dump_path": None,
        "dest": None,
        "snapshot": "latest",
        "read_data_subset": None,
        "protected_paths": [],
    }
    base.update(overrides)
    return base


def test_valid_parameters_have_no_problems():
    assert module.validate(params()) == []
    assert module.validate(params(command="backup", paths=["/etc"])) == []
    assert module.validate(params(command="forget", retention={"daily": 7})) == []
    assert module.validate(params(command="check", read_data_subset="3/10")) == []


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"command": "backup"}, "needs paths"),
        ({"command": "backup", "paths": ["etc"]}, "must be absolute"),
        ({"command": "restore"}, "needs target"),
        ({"command": "forget", "retention": {}}, "retention"),
        ({"command": "copy"}, "needs from_repository"),
        ({"command": "copy", "from_repository": "/r"}, "needs from_password_file or from_password"),
        ({"command": "dump"}, "needs dump_path and dest"),
        ({"command": "restore", "target": "/t", "snapshot": "--target=/"}, "snapshot must be"),
        ({"command": "check", "read_data_subset": "11/10"}, "1 <= n <= t"),
        (
            {"command": "restore", "target": "/etc/drill", "protected_paths": ["/etc"]},
            "overlaps the backed-up path /etc",
        ),
        (
            {"command": "restore", "target": "/", "protected_paths": ["/srv/data"]},
            "overlaps the backed-up path /srv/data",
        ),
    ],
)
def test_bad_parameters_are_named(overrides, words):
    problems = module.validate(params(**overrides))
    assert problems and words in "; ".join(problems)


def test_documentation_lists_every_command():
    import yaml

    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["options"]["command"]["choices"] == list(module.COMMANDS)
    assert doc["options"]["password"]["type"] == "str"
    yaml.safe_load(module.EXAMPLES)
    yaml.safe_load(module.RETURN)
