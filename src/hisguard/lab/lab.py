"""`hisguard lab up|down|status`: the local podman hospital and its emulated switches."""

import hashlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hisguard import paths
from hisguard.errors import UserError
from hisguard.lab import image, inventory, podman, sshkeys, switches, system
from hisguard.lab.topology import (
    CANARY_IP,
    DOMAIN,
    HOSTS,
    INTERNET,
    INTRANET,
    LABEL,
    NETWORKS,
    LabHost,
    hosts_entries,
)

PROVISION_DIR = Path(__file__).with_name("provision")
PROVISIONED_MARK = "/etc/hisguard-lab-provisioned"


def state_dir() -> Path:
    return paths.var_dir() / "lab"


def client_key() -> Path:
    return state_dir() / "ssh" / "id_ed25519"


def host_key(name: str) -> Path:
    return state_dir() / "ssh" / "hostkeys" / name / "ssh_host_ed25519_key"


@dataclass
class HostStatus:
    name: str
    kind: str  # container | switch
    address: str
    state: str  # running | stopped | absent
    reachable: bool


def up(log: Callable[[str], None] = print) -> list[str]:
    """Start whatever is missing; return what changed (empty when the lab was already up)."""
    system.ensure_packages(log)
    podman.check_usable()
    ref = image.ensure_image(log)
    changed: list[str] = []
    for net in NETWORKS:
        if not podman.exists("network", net.name):
            podman.run(
                "network",
                "create",
                "--internal",
                "--subnet",
                net.subnet,
                "--gateway",
                net.gateway,
                "--label",
                LABEL,
                net.name,
            )
            changed.append(f"network {net.name}")
    sshkeys.ensure_key(client_key(), "hisguard-lab-controller")
    for h in HOSTS:  # in order: the mirror serves the others during provisioning
        if _ensure_container(h, ref, log):
            changed.append(h.name)
    changed += [f"switch {name}" for name in switches.up(state_dir())]
    if inventory.write(state_dir(), client_key()):
        changed.append("inventory")
    return changed


def _ensure_container(h: LabHost, ref: str, log: Callable[[str], None]) -> bool:
    info = podman.inspect(h.container)
    if info and info["Config"]["Labels"] != {**info["Config"]["Labels"], **_labels(h)}:
        # A new image, or another checkout's controller key: its SSH keys would not let us in.
        log(f"{h.name}: lab image, provisioning or controller changed, recreating")
        podman.run("rm", "-f", "-t", "5", h.container)
        info = None
    if info and info["State"]["Running"] and _provisioned(h):
        return False
    if info is None:
        log(f"{h.name}: starting container")
        podman.run(*_run_args(h, ref))
    elif not info["State"]["Running"]:
        log(f"{h.name}: starting stopped container")
        podman.run("start", h.container)
    _wait_for_systemd(h)
    if not _provisioned(h):
        log(
            f"{h.name}: provisioning ({h.role or 'base'}{', seeds: ' + ' '.join(h.seeds) if h.seeds else ''})"
        )
        _provision(h)
    return True


def _run_args(h: LabHost, ref: str) -> list[str]:
    args = [
        "run",
        "-d",
        "--name",
        h.container,
        "--hostname",
        h.name,
        "--systemd=always",
        "--cap-add",
        "NET_ADMIN",
        "--cap-add",
        "NET_RAW",
        "--cap-add",
        "AUDIT_CONTROL",
        "--label",
        LABEL,
    ]
    for key, value in _labels(h).items():
        args += ["--label", f"{key}={value}"]
    if h.intranet_ip:
        args += ["--network", f"{INTRANET.name}:ip={h.intranet_ip},mac={h.mac(h.intranet_ip)}"]
    if h.internet_ip:
        args += ["--network", f"{INTERNET.name}:ip={h.internet_ip},mac={h.mac(h.internet_ip)}"]
    if h.intranet_ip and h.internet_ip:
        args += ["--sysctl", "net.ipv4.ip_forward=1"]
    for entry in hosts_entries():
        args += ["--add-host", entry]
    return [*args, ref, "/sbin/init"]


def _labels(h: LabHost) -> dict[str, str]:
    controller = hashlib.sha256(sshkeys.public(client_key()).encode()).hexdigest()[:12]
    return {
        "hisguard.lab.image": image.recipe_hash(),
        "hisguard.lab.provision": _provision_hash(),
        "hisguard.lab.host": h.name,
        "hisguard.lab.controller": controller,
    }


def _provision_hash() -> str:
    """Changed provisioning scripts recreate the hosts, like a changed image does."""
    digest = hashlib.sha256()
    for path in sorted(PROVISION_DIR.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _provisioned(h: LabHost) -> bool:
    return podman.run("exec", h.container, "test", "-e", PROVISIONED_MARK, check=False).returncode == 0


def _wait_for_systemd(h: LabHost, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = podman.run("exec", h.container, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.3)
    raise UserError(
        f"{h.name}: systemd did not finish booting in {timeout:.0f}s (see `podman logs {h.container}`)"
    )


def _provision(h: LabHost) -> None:
    key = sshkeys.ensure_key(host_key(h.name), f"root@{h.name}")
    podman.run("exec", h.container, "install", "-d", "-m", "0700", "/tmp/lab-provision")
    files = {
        "authorized_keys": client_key().with_suffix(".pub"),
        "ssh_host_ed25519_key": key,
        "ssh_host_ed25519_key.pub": key.with_suffix(".pub"),
        "his.sql": PROVISION_DIR / "his.sql",
    }
    for target, source in files.items():
        podman.run("cp", str(source), f"{h.container}:/tmp/lab-provision/{target}")
    env = {
        "LAB_DEFAULT_ROUTE": h.default_route or "",
        "LAB_SEEDS": " ".join(h.seeds),
        "LAB_CANARY_IP": CANARY_IP,
        "LAB_LOG_HOST": f"srv-backup.{DOMAIN}" if h.intranet_ip and h.name != "srv-backup" else "",
    }
    env_args = [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")]
    for script in ("common", h.role):
        if not script:
            continue
        proc = podman.run(
            "exec",
            "-i",
            *env_args,
            h.container,
            "bash",
            "-s",
            input=(PROVISION_DIR / f"{script}.sh").read_text(),
            check=False,
        )
        if proc.returncode != 0:
            raise UserError(
                f"{h.name}: provisioning step {script}.sh failed: {podman.last_line(proc.stderr)}"
            )
    podman.run("exec", h.container, "rm", "-rf", "/tmp/lab-provision")
    podman.run("exec", h.container, "touch", PROVISIONED_MARK)


def reset(names: list[str], log: Callable[[str], None] = print) -> list[str]:
    """Recreate hosts in their seeded state (undo hardening or tests); all hosts when names is empty."""
    unknown = sorted(set(names) - {h.name for h in HOSTS})
    if unknown:
        raise UserError(
            f"unknown lab host(s): {', '.join(unknown)} (lab hosts: {', '.join(h.name for h in HOSTS)})"
        )
    podman.check_usable()
    targets = [h for h in HOSTS if not names or h.name in names]
    for h in targets:
        podman.run("rm", "-f", "-t", "3", h.container)
    up(log)
    return [h.name for h in targets]


def down(log: Callable[[str], None] = print) -> list[str]:
    """Remove every container, network and switch process the lab started."""
    podman.check_usable()
    removed = []
    for name in podman.names("container", LABEL):
        podman.run("rm", "-f", "-t", "3", name)
        removed.append(name)
    for name in podman.names("network", LABEL):
        podman.run("network", "rm", "-f", name)
        removed.append(f"network {name}")
    removed += [f"switch {name}" for name in switches.down(state_dir())]
    for item in removed:
        log(f"removed {item}")
    return removed


def status() -> list[HostStatus]:
    rows = []
    for h in HOSTS:
        info = podman.inspect(h.container)
        state = "absent" if info is None else ("running" if info["State"]["Running"] else "stopped")
        rows.append(
            HostStatus(h.name, "container", h.address, state, state == "running" and _tcp_open(h.address, 22))
        )
    hostvars = switches.inventory_hosts(state_dir())
    for name, up_now in switches.status(state_dir()).items():
        address = f"{hostvars[name]['ansible_host']}:{hostvars[name]['ansible_port']}"
        rows.append(HostStatus(name, "switch", address, "running" if up_now else "absent", up_now))
    return rows


def _tcp_open(address: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False
