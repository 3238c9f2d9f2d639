"""`hisguard failover` and `hisguard netconfig`: argument errors are clear and nothing runs."""

import pytest

from hisguard import cli


@pytest.fixture(autouse=True)
def commands(monkeypatch, tmp_path):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path))

    def no_run(*_args, **_kwargs):  # nothing may reach Ansible in these tests
        raise AssertionError("run_playbook must not be called")

    monkeypatch.setattr("hisguard.failover.run_playbook", no_run)
    monkeypatch.setattr("hisguard.netconfig.run_playbook", no_run)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    "argv",
    [
        ["failover"],
        ["failover", "uplink"],
        ["failover", "switch", "--failed", "access-sw-01"],
        ["netconfig"],
    ],
)
def test_missing_arguments_are_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["core-sw-01,access-sw-01", "sw*", "a b", "-x", "network_devices:!x"])
def test_device_must_be_one_switch(capsys, name):
    code, _, err = run(capsys, "failover", "uplink", f"--device={name}")
    assert code == 2
    assert err.startswith("hisguard: error: --device must name one switch of the inventory")
    assert "Traceback" not in err


def test_same_failed_and_spare(capsys):
    code, _, err = run(capsys, "failover", "switch", "--failed", "sw1", "--spare", "sw1")
    assert code == 2 and "--failed and --spare name the same switch" in err


def test_switch_without_backup_says_how_to_get_one(capsys, tmp_path):
    code, _, err = run(capsys, "failover", "switch", "--failed", "access-sw-01", "--spare", "spare-sw-01")
    assert code == 2
    assert f"no backup of access-sw-01 at {tmp_path}/netconfig/configs/access-sw-01.cfg" in err
    assert "hisguard netconfig backup" in err


def test_vault_password_file_must_be_private(capsys, tmp_path):
    loose = tmp_path / "vault-pass"
    loose.write_text("x\n")
    loose.chmod(0o644)
    code, _, err = run(capsys, "netconfig", "backup", "--vault-password-file", str(loose))
    assert code == 2 and f"has mode 0644; run `chmod 600 {loose}`" in err
    code, _, err = run(capsys, "netconfig", "backup", "--vault-password-file", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err


def test_history_without_backups(capsys, tmp_path):
    code, out, _ = run(capsys, "netconfig", "history")
    assert code == 0 and out.strip() == f"no backups yet in {tmp_path}/netconfig"


def test_show_refuses_a_non_commit(capsys):
    code, _, err = run(capsys, "netconfig", "show", "--", "--output=/etc/passwd")
    assert code == 2 and "is not a commit id" in err
