"""The running lab (`make integration` brings it up first): every host and switch answers, the
seeded non-compliance is there, the misrouted workstation alone reaches the simulated Internet."""

import json
import subprocess

import pytest
import yaml

from hisguard import paths
from hisguard.lab import lab, podman, switches
from hisguard.lab.topology import CANARY_IP, HOSTS, host

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module", autouse=True)
def running_lab():
    lab.up(log=lambda _msg: None)


def sh(name: str, command: str) -> subprocess.CompletedProcess:
    return podman.run("exec", host(name).container, "bash", "-c", command, check=False)


def test_status_shows_every_host_and_switch_up():
    rows = lab.status()
    assert {r.name for r in rows} == {h.name for h in HOSTS} | set(switches.SWITCH_NAMES)
    assert all(r.reachable for r in rows), [r for r in rows if not r.reachable]


def test_second_lab_up_changes_nothing():
    assert lab.up(log=lambda _msg: None) == []


def test_ansible_ping_reaches_every_linux_host():
    proc = subprocess.run(
        ["ansible", "-i", str(paths.lab_inventory()), "linux", "-m", "ansible.builtin.ping", "-o"],
        capture_output=True,
        text=True,
        cwd=paths.ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(HOSTS)


def test_netmiko_show_running_config_on_every_switch():
    from netmiko import ConnectHandler

    hostvars = switches.inventory_hosts(lab.state_dir())
    creds = yaml.safe_load((lab.state_dir() / "secrets" / "switch_credentials.yml").read_text())
    for name in switches.SWITCH_NAMES:
        device = ConnectHandler(
            device_type="cisco_ios",
            host=hostvars[name]["ansible_host"],
            port=hostvars[name]["ansible_port"],
            username=creds["username"],
            password=creds["password"],
            secret=creds["enable_secret"],
        )
        try:
            device.enable()
            config = device.send_command("show running-config")
        finally:
            device.disconnect()
        assert f"hostname {name}" in config
        assert "vlan" in config.lower()


def test_only_the_misrouted_workstation_reaches_the_canary():
    probe = f"curl -sS -m 3 -o /dev/null -w '%{{http_code}}' http://{CANARY_IP}/"
    assert sh("ws-03", probe).stdout == "200"
    for name in ("ws-01", "ws-02", "ws-04", "srv-his"):
        assert sh(name, probe).returncode != 0, f"{name} must not reach the simulated Internet"


def test_lab_hosts_have_no_route_off_this_machine():
    for name in ("ws-01", "srv-his", "mirror"):
        assert "default" not in sh(name, "ip route").stdout


def test_seeded_non_compliance():
    blocked = "modprobe -n -v usb-storage"
    assert "install /bin/false" in sh("ws-01", blocked).stdout
    assert "install /bin/false" not in sh("ws-02", blocked).stdout
    assert sh("ws-01", "systemctl is-active clamav-daemon").stdout.strip() == "active"
    assert sh("ws-02", "command -v clamscan").returncode != 0
    assert sh("ws-03", "dpkg -s sunloginclient").returncode == 0
    assert sh("ws-04", "dpkg -s telnet").returncode == 0


def test_his_database_has_a_small_hospital():
    query = (
        "SELECT json_object_agg(t, n) FROM (SELECT 'patients' t, count(*) n FROM patients UNION ALL "
        "SELECT 'registrations', count(*) FROM registrations UNION ALL SELECT 'prescriptions', count(*) "
        "FROM prescriptions UNION ALL SELECT 'charges', count(*) FROM charges UNION ALL "
        "SELECT 'price_catalogue', count(*) FROM price_catalogue) c"
    )
    proc = sh("srv-his", f'su postgres -c "psql -d his -Atc \\"{query}\\""')
    counts = json.loads(proc.stdout)
    assert counts["patients"] >= 1000 and counts["registrations"] >= 1000
    assert counts["price_catalogue"] > 0 and counts["charges"] > 0 and counts["prescriptions"] > 0


def test_mirror_serves_packages_and_a_pending_update():
    assert sh("ws-01", "apt-get update -qq && apt-get -s upgrade | grep -q 'Inst his-client'").returncode == 0
    assert sh("ws-01", "curl -fsS http://mirror.lab.internal/clamav/hisguard-eicar.hdb").returncode == 0


def test_backup_target_and_central_log_host():
    assert sh("srv-backup", "id restic && test -d /srv/restic/repos").returncode == 0
    sh("ws-01", "logger -t hisguard-test central-log-probe")
    found = sh(
        "srv-backup",
        "for i in $(seq 50); do grep -q central-log-probe /var/log/remote/ws-01.log && exit 0; "
        "sleep 0.1; done; exit 1",
    )
    assert found.returncode == 0
