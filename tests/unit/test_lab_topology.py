"""Pure logic of the lab: topology invariants, the inventory it writes, the Debian mirror lookup."""

import ipaddress

import yaml

from hisguard.lab import image, inventory, sshkeys
from hisguard.lab.topology import GROUPS, HOSTS, INTERNET, INTRANET


def test_simulated_internet_is_an_rfc5737_range():
    documentation = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
    assert ipaddress.ip_network(INTERNET.subnet) in documentation


def test_addresses_are_unique_and_inside_their_networks():
    seen = set()
    for h in HOSTS:
        for ip, net in ((h.intranet_ip, INTRANET), (h.internet_ip, INTERNET)):
            if ip:
                assert ipaddress.ip_address(ip) in ipaddress.ip_network(net.subnet), h.name
                assert ip not in seen and ip != net.gateway
                seen.add(ip)


def test_exactly_one_workstation_is_misrouted_and_seeds_cover_the_issue():
    workstations = [h for h in HOSTS if "workstations" in h.groups]
    assert [h.name for h in workstations] == ["ws-01", "ws-02", "ws-03", "ws-04"]
    assert [h.name for h in workstations if h.default_route] == ["ws-03"]
    seeds = {s for h in workstations for s in h.seeds}
    assert {
        "usb_storage_allowed",
        "no_antivirus",
        "remote_desktop",
        "unapproved_package",
        "shared_account",
    } <= seeds
    assert any(h.seeds == () for h in workstations), "at least one workstation is compliant"


def test_inventory_has_every_group_and_no_literal_secret(tmp_path):
    for h in HOSTS:
        sshkeys.ensure_key(tmp_path / "ssh" / "hostkeys" / h.name / "ssh_host_ed25519_key", h.name)
    key = sshkeys.ensure_key(tmp_path / "ssh" / "id_ed25519", "test")
    assert inventory.write(tmp_path, key, tmp_path / "inv") is True
    assert inventory.write(tmp_path, key, tmp_path / "inv") is False, "a second write changes nothing"
    hosts = yaml.safe_load((tmp_path / "inv" / "hosts.yml").read_text())
    children = hosts["all"]["children"]
    for group in (*GROUPS, "linux"):
        assert group in children
    assert set(children["linux"]["hosts"]) == {h.name for h in HOSTS}
    assert "ws-03" in children["workstations"]["hosts"]
    assert "inet-canary" not in children["intranet"]["hosts"]
    net_vars = (tmp_path / "inv" / "group_vars" / "network_devices.yml").read_text()
    assert "lookup(" in net_vars, "switch credentials are looked up from the 0600 file, not written in"
    known = (tmp_path / "ssh" / "known_hosts").read_text().splitlines()
    assert len(known) == len(HOSTS)


def test_debian_mirror_is_read_from_deb822_and_one_line_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://deb.example.org/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://deb.example.org/debian\nSuites: bookworm bookworm-updates\n"
    )
    assert image.debian_mirror(tmp_path) == "http://deb.example.org/debian"
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://ftp.example.net/debian bookworm main\n")
    assert image.debian_mirror(tmp_path) == "http://ftp.example.net/debian"


def test_recipe_hash_is_stable_and_tracks_the_recipe():
    assert image.recipe_hash() == image.recipe_hash()
    assert len(image.recipe_hash()) == 12
    assert image.image_ref().endswith(":" + image.recipe_hash())
