"""Sanitized copies of switch configurations: no password, key or community survives."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.hisguard.infosec.plugins.module_utils import ios_config as ic  # noqa: E402

# Every secret in this configuration contains "SECRET" so a leftover is easy to find.
CONFIG = """\
version 15.2
service password-encryption
!
hostname core-sw-01
!
enable secret 9 $9$SECRETenable9hashvalue
enable password 7 SECRET0822455D0A16
username hisadmin privilege 15 secret 5 $1$SECRETmd5$salthash
username backup password 7 SECRET045802150C2E
username ops privilege 1 algorithm-type scrypt secret 9 $9$SECRETscrypt
!
snmp-server community SECRETro RO 10
snmp-server community SECRETrw RW
snmp-server host 10.99.0.50 version 2c SECRETtrap
snmp-server host 10.99.0.51 informs version 2c SECRETinform
snmp-server user monitor ops v3 auth sha SECRETauthpass priv aes 128 SECRETprivpass
snmp-server location machine room 2F
!
tacacs-server host 10.99.0.60 key 7 SECRET1511021F0725
tacacs server ISE
 address ipv4 10.99.0.61
 key 7 SECRET00071A150754
radius-server key SECRETradius
radius server NPS
 address ipv4 10.99.0.62 auth-port 1812 acct-port 1813
 key SECRETradius2
!
key chain OSPF
 key 1
  key-string SECRET keychain string
!
interface Vlan99
 description MGMT
 ip address 10.99.0.2 255.255.255.0
 ip ospf authentication-key 7 SECRET110A1016141D
 ip ospf message-digest-key 1 md5 7 SECRET0822455D0A
 standby 1 authentication md5 key-string 7 SECRET1234
!
router bgp 65001
 neighbor 10.99.0.1 password 7 SECRET02050D480809
!
crypto isakmp key SECRETpsk address 192.0.2.1
ntp authentication-key 1 md5 SECRET1511021F07 7
ppp chap password 7 SECRET0822
ip http client password SECREThttp
!
line vty 0 4
 password 7 SECRET121A0C041104
 login local
!
end
"""


def test_no_secret_survives_sanitizing():
    out = ic.sanitize(CONFIG)
    leftovers = [line for line in out.splitlines() if "SECRET" in line]
    assert leftovers == []
    assert out.count(ic.MASK) == CONFIG.count("SECRET")


def test_sanitizing_keeps_everything_else():
    out = ic.sanitize(CONFIG)
    assert "username hisadmin privilege 15 secret 5 <removed>" in out
    assert "snmp-server community <removed> RO 10" in out
    assert "snmp-server host 10.99.0.50 version 2c <removed>" in out
    assert "snmp-server location machine room 2F" in out
    assert " key-string <removed>" in out
    assert "service password-encryption" in out
    assert " description MGMT" in out and " login local" in out
    assert len(out.splitlines()) == len(CONFIG.splitlines())


def test_known_secret_values_are_masked_anywhere():
    text = "interface Gi1/0/1\n description patch by admin pw=Lab-Pass-123\n"
    assert (
        ic.sanitize(text, ["Lab-Pass-123", "", None])
        == "interface Gi1/0/1\n description patch by admin pw=<removed>\n"
    )
    # very short values are not masked (they would mangle the configuration)
    assert ic.sanitize("vlan 10\n", ["10"]) == "vlan 10\n"


@pytest.mark.parametrize(
    "line",
    [
        "enable secret SECRETplain",
        "username a secret SECRETplain",
        " password SECRETplain",
        "snmp-server community SECRET",
    ],
)
def test_secrets_without_type_digit(line):
    assert "SECRET" not in ic.sanitize(line)
