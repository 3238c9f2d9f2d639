"""hisguard.vendor_access: input checks, stored grants and revocations, list statuses, CLI errors."""

from datetime import UTC, datetime, timedelta

import pytest

from hisguard import vendor_access
from hisguard.cli import main
from hisguard.errors import UserError
from hisguard.store import Store


@pytest.mark.parametrize(("text", "minutes"), [("30m", 30), ("2h", 120), ("1d", 1440), (" 5 m ", 5)])
def test_durations(text, minutes):
    assert vendor_access.parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["abc", "", "0h", "2", "1w", "-1h", "1.5h"])
def test_bad_durations(text):
    with pytest.raises(UserError, match=r"e\.g\. 30m, 2h, 1d"):
        vendor_access.parse_duration(text)


def test_maximum_duration(monkeypatch):
    assert vendor_access.check_duration("24h") == timedelta(hours=24)
    with pytest.raises(UserError, match="longer than the maximum of 24h"):
        vendor_access.check_duration("2d")
    monkeypatch.setenv("HISGUARD_VENDOR_MAX_DURATION", "8h")
    with pytest.raises(UserError, match="longer than the maximum of 8h"):
        vendor_access.check_duration("9h")
    monkeypatch.setenv("HISGUARD_VENDOR_MAX_DURATION", "soon")
    with pytest.raises(UserError, match="HISGUARD_VENDOR_MAX_DURATION"):
        vendor_access.check_duration("1h")


def test_vendor_names_and_accounts():
    assert vendor_access.vendor_slug("GE Healthcare") == "gehealthcare"
    assert vendor_access.vendor_slug("Acme-Medical Systems International Ltd") == "acmemedicalsystemsin"
    assert len(vendor_access.account_name("acmemedicalsystemsin", "0123abcd")) <= 32
    for bad in ("", "东软", "3m"):
        with pytest.raises(UserError, match="must contain letters"):
            vendor_access.vendor_slug(bad)


def test_addresses_and_texts():
    assert vendor_access.check_ip(None) is None
    assert vendor_access.check_ip("10.77.10.5") == "10.77.10.5"
    with pytest.raises(UserError, match="one IPv4 address"):
        vendor_access.check_ip("10.77.10.0/24")
    assert vendor_access.check_text("--ticket", " T-1 ") == "T-1"
    with pytest.raises(UserError, match="--ticket must be one line"):
        vendor_access.check_text("--ticket", "a\nb")


def test_public_keys(tmp_path):
    private = tmp_path / "k"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n-----END OPENSSH PRIVATE KEY-----\n")
    with pytest.raises(UserError, match="is a private key"):
        vendor_access.read_public_key(private)
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key\n")
    with pytest.raises(UserError, match="not an OpenSSH public key"):
        vendor_access.read_public_key(junk)
    with pytest.raises(UserError, match="cannot read the public key"):
        vendor_access.read_public_key(tmp_path / "missing.pub")


def test_generated_key_is_private(monkeypatch, tmp_path):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path))
    public, fingerprint, private = vendor_access.generate_key("0123abcd", "acme")
    assert public.startswith("ssh-ed25519 ") and public.endswith("vendor acme grant 0123abcd")
    assert fingerprint.startswith("SHA256:")
    assert private == tmp_path / "vendor-access" / "0123abcd" / "id_ed25519"
    assert private.stat().st_mode & 0o777 == 0o600
    assert private.parent.stat().st_mode & 0o777 == 0o700


def grant_row(grant_id, expires, outcome="granted"):
    return {
        "id": grant_id, "host": "srv-his", "vendor": "acme", "vendor_name": "Acme",
        "account": f"v-acme-{grant_id}", "ticket": "T-1", "approver": "wang",
        "granted": "2026-01-01T00:00:00+00:00", "expires": expires, "outcome": outcome,
    }  # fmt: skip


def test_store_and_statuses(monkeypatch, tmp_path):
    monkeypatch.setenv("HISGUARD_DB", str(tmp_path / "db.sqlite"))
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    with Store() as store:
        store.save_vendor_grant(grant_row("aaaaaaaa", later))
        store.save_vendor_grant(grant_row("bbbbbbbb", "2026-01-01T01:00:00+00:00"))
        store.save_vendor_grant(grant_row("cccccccc", later))
        store.save_vendor_grant(grant_row("dddddddd", later, outcome="failed"))
        store.save_vendor_revocation(
            {"grant_id": "cccccccc", "time": "t", "reason": "done", "outcome": "revoked"}
        )
        with pytest.raises(UserError, match="cannot store into vendor_grants"):
            store.save_vendor_grant(grant_row("aaaaaaaa", later))
        assert store.vendor_grant("cccccccc")["revocations"][0]["reason"] == "done"
        assert store.vendor_grant("eeeeeeee") is None
    statuses = {row["id"]: row["status"] for row in vendor_access.list_grants()}
    assert statuses == {
        "aaaaaaaa": "active",
        "bbbbbbbb": "expired",
        "cccccccc": "revoked",
        "dddddddd": "failed",
    }
    assert [row["id"] for row in vendor_access.list_grants("active")] == ["aaaaaaaa"]


def test_cli_rejects_bad_input_before_running_anything(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HISGUARD_DB", str(tmp_path / "db.sqlite"))
    monkeypatch.setattr("hisguard.vendor_access.run_playbook", lambda *a, **k: pytest.fail("must not run"))
    base = [
        "vendor-access",
        "grant",
        "--host",
        "srv-his",
        "--vendor",
        "acme",
        "--ticket",
        "T",
        "--approver",
        "A",
    ]
    assert main([*base, "--duration", "abc"]) == 2
    assert "duration must be a positive number" in capsys.readouterr().err
    assert main([*base, "--duration", "3d"]) == 2
    assert "longer than the maximum of 24h" in capsys.readouterr().err
    assert main(["vendor-access", "revoke", "12345678"]) == 2
    assert "no vendor access grant '12345678' in the store" in capsys.readouterr().err
    assert main(["vendor-access", "list"]) == 0
    assert "no vendor access grants" in capsys.readouterr().out
