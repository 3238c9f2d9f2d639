"""Writes inventories/lab/: the lab's hosts, groups and connection settings (the embedded default)."""

import secrets
from datetime import date
from pathlib import Path

import yaml

from hisguard import paths
from hisguard.lab import sshkeys, switches
from hisguard.lab.topology import CANARY_IP, GROUPS, HOSTS, INTERNET, INTRANET, host

HEADER = "# Written by `hisguard lab up`; edits are overwritten.\n"


def build(state_dir: Path, client_key: Path) -> dict[str, dict]:
    """File name (relative to the inventory dir) -> content."""
    known_hosts = state_dir / "ssh" / "known_hosts"
    groups: dict[str, dict] = {g: {"hosts": {}} for g in GROUPS}
    linux: dict[str, dict] = {}
    for h in HOSTS:
        # The IP register: every interface's address and MAC.
        addresses = [ip for ip in (h.intranet_ip, h.internet_ip) if ip]
        linux[h.name] = {
            "ansible_host": h.address,
            "hisguard_interfaces": [{"address": ip, "mac": h.mac(ip)} for ip in addresses],
        }
        if not h.intranet_ip:  # managed from the controller's address on the simulated Internet
            linux[h.name]["network_isolation_management_addresses"] = [INTERNET.gateway]
        for g in h.groups:
            groups[g]["hosts"][h.name] = {}
    for name, hostvars in switches.inventory_hosts(state_dir).items():
        groups["network_devices"]["hosts"][name] = hostvars
    hosts = {"all": {"children": {"linux": {"hosts": linux}, **groups}}}
    ssh_args = (
        f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes "
        "-o ControlMaster=auto -o ControlPersist=60s"
    )
    all_vars = {
        "hisguard_site": {"name": "hisguard lab hospital", "organization": "hospital"},
        "hisguard_intranet_cidrs": [INTRANET.subnet],
        # Known addresses outside the host register: the controller's bridge (its MAC changes with podman).
        "hisguard_infrastructure_addresses": [
            {"address": INTRANET.gateway, "name": "controller (podman bridge)"},
        ],
        "hisguard_mirror": {
            "host": "mirror.lab.internal",
            "address": host("mirror").intranet_ip,
            "apt_url": "http://mirror.lab.internal/debian",
            "clamav_url": "http://mirror.lab.internal/clamav",
            # The lab mirror has no signed .cvd databases, only the EICAR test signature.
            "clamav_official_databases": [],
            "clamav_custom_databases": ["hisguard-eicar.hdb"],
        },
        # The lab's IT department removes unapproved software instead of only reporting it.
        "software_control_remove_unapproved": True,
        # The lab is always inside its maintenance window, so `hisguard harden` patches at once.
        "patching_maintenance_window": {
            "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "start": "00:00",
            "end": "23:59",
        },
        # The employee roster (人员名册): the only personal accounts; the lab creates them, locks others.
        "accounts_roster": ROSTER,
        "accounts_manage_roster": True,
        "accounts_remove_unknown": True,
        # The restic repository password stays in its 0600 file; the inventory only names it.
        "backup_password": f"{{{{ lookup('ansible.builtin.file', '{backup_password_file(state_dir)}') }}}}",
        "hisguard_waivers": [CONTAINER_AUDIT_WAIVER],
        # The machine-room UPS (NUT dummy-ups on srv-backup).
        "hisguard_ups": [{"name": "lab-ups", "host": "srv-backup"}],
        # Simulated Internet targets (RFC 5737) that intranet hosts must NOT reach.
        "hisguard_internet_canaries": [
            {
                "address": CANARY_IP,
                "tcp_port": 80,
                "http_url": f"http://{CANARY_IP}/",
                "dns_server": CANARY_IP,
                "dns_name": "canary.example.com",
            }
        ],
    }
    linux_vars = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(client_key),
        "ansible_ssh_common_args": ssh_args,
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    return {
        "hosts.yml": hosts,
        "group_vars/all.yml": all_vars,
        "group_vars/linux.yml": linux_vars,
        "group_vars/network_devices.yml": switches.group_vars(state_dir),
    }


# Containers may not load kernel audit rules (auditctl: Operation not permitted), whatever the role does.
CONTAINER_AUDIT_WAIVER = {
    "control": "P2.5.2",
    "groups": ["linux"],
    "reason": "lab hosts are containers: the kernel refuses them audit rules (Operation not permitted)",
    "approver": "hisguard lab",
    "ticket": "LAB-CONTAINERS",
    # Renewed every year by `lab up`, so it never lapses on a lab in use yet stays a dated exception.
    "expires": f"{date.today().year + 1}-12-31",
}

ROSTER = [
    {"login": "zhangsan", "employee_id": "H10023", "name": "张三", "groups": ["hisadmin"]},
    {"login": "lisi", "employee_id": "H10024", "name": "李四", "groups": []},
]


def backup_password_file(state_dir: Path) -> Path:
    return Path(state_dir).resolve() / "secrets" / "backup_password"


def ensure_secrets(state_dir: Path) -> None:
    """The lab's restic password, made once, readable by the controller's user only."""
    path = backup_password_file(state_dir)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(secrets.token_urlsafe(24) + "\n")


def known_hosts(state_dir: Path) -> str:
    lines = [
        sshkeys.known_hosts_line(h.address, state_dir / "ssh" / "hostkeys" / h.name / "ssh_host_ed25519_key")
        for h in HOSTS
    ]
    return "\n".join(lines) + "\n"


def write(state_dir: Path, client_key: Path, inv_dir: Path | None = None) -> bool:
    """Write the files that differ; True when anything changed."""
    inv_dir = inv_dir or paths.lab_inventory()
    ensure_secrets(state_dir)
    outputs = {
        inv_dir / rel: HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        for rel, data in build(state_dir, client_key).items()
    }
    outputs[state_dir / "ssh" / "known_hosts"] = known_hosts(state_dir)
    changed = False
    for path, text in outputs.items():
        if path.exists() and path.read_text() == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        changed = True
    return changed
