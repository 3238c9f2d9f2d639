"""The lab's emulated Cisco IOS switches: seed configs, credentials and the processes that run them.

Each switch is one `python -m hisguard.lab.fakeswitch` process listening for SSH on 127.0.0.1
(never on another address). Everything a switch keeps lives under `<state_dir>/switches/`:

    NAME.pid          pid of the launcher (checked against /proc/PID/cmdline before any signal)
    NAME.log          the launcher's log: logins, commands, errors (never a password)
    NAME.host_key     its SSH host key (ed25519, 0600), created on first start; NAME.host_key.pub
    NAME.startup.yml  the configuration saved by `write memory` / `copy run start`; loaded on start
                      instead of the seed in src/hisguard/lab/switches/NAME.yml (delete it to reset)
    NAME.reject       optional: one regular expression per line; configuration commands matching one
                      are refused with "% Invalid input" (fault injection for drills)
    known_hosts       the switches' host keys as `[127.0.0.1]:PORT ssh-ed25519 ...`

The login (username, password, enable secret) is generated once into
`<state_dir>/secrets/switch_credentials.yml` (0600); it never appears in an argv or a log.
"""

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from hisguard.errors import UserError

SWITCH_NAMES = ("core-sw-01", "access-sw-01", "spare-sw-01")
DEFAULT_BASE_PORT = 2221  # core-sw-01 2221, access-sw-01 2222, spare-sw-01 2223
BASE_PORT_ENV = "HISGUARD_LAB_SWITCH_BASE_PORT"  # moves all three (tests use their own ports)
LISTEN_ADDRESS = "127.0.0.1"
USERNAME = "hisadmin"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
SEED_DIR = Path(__file__).with_name("switches")
LAUNCHER_MODULE = "hisguard.lab.fakeswitch"
CREDENTIAL_KEYS = ("username", "password", "enable_secret")
_RANGE = re.compile(r"^(?P<prefix>.*?)(?P<first>\d+)-(?P<last>\d+)$")


# ---------------------------------------------------------------------------------------------- paths
def switch_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "switches"


def credentials_file(state_dir: Path) -> Path:
    return Path(state_dir) / "secrets" / "switch_credentials.yml"


def known_hosts_file(state_dir: Path) -> Path:
    return switch_dir(state_dir) / "known_hosts"


def pid_file(state_dir: Path, name: str) -> Path:
    return switch_dir(state_dir) / f"{name}.pid"


def log_file(state_dir: Path, name: str) -> Path:
    return switch_dir(state_dir) / f"{name}.log"


def host_key_file(state_dir: Path, name: str) -> Path:
    return switch_dir(state_dir) / f"{name}.host_key"


def startup_config_file(state_dir: Path, name: str) -> Path:
    return switch_dir(state_dir) / f"{name}.startup.yml"


def reject_file(state_dir: Path, name: str) -> Path:
    return switch_dir(state_dir) / f"{name}.reject"


# ----------------------------------------------------------------------------------------------- seeds
def expand_range(name: str) -> list[str]:
    """`GigabitEthernet1/0/1-4` -> the four port names; a name without a range is returned alone."""
    match = _RANGE.match(name)
    if not match:
        return [name]
    first, last = int(match["first"]), int(match["last"])
    if last < first:
        raise ValueError(f"bad port range {name!r}: {last} < {first}")
    return [f"{match['prefix']}{n}" for n in range(first, last + 1)]


def load_seed(name: str) -> dict[str, Any]:
    """The seed config of one lab switch (src/hisguard/lab/switches/NAME.yml)."""
    if name not in SWITCH_NAMES:
        raise UserError(f"unknown lab switch {name!r}; the lab has {', '.join(SWITCH_NAMES)}")
    path = SEED_DIR / f"{name}.yml"
    seed = yaml.safe_load(path.read_text(encoding="utf-8"))
    missing = [
        k
        for k in ("hostname", "role", "platform", "uplinks", "mgmt_vlan", "vlans", "ports", "svis")
        if k not in seed
    ]
    if missing:
        raise UserError(f"seed {path} lacks {', '.join(missing)}")
    return seed


def port_names(config: dict[str, Any]) -> list[str]:
    """The physical ports a seed or saved config defines, ranges expanded, in order."""
    return [port for key in config["ports"] for port in expand_range(key)]


def base_port() -> int:
    raw = os.environ.get(BASE_PORT_ENV, "")
    if not raw:
        return DEFAULT_BASE_PORT
    if not raw.isdigit() or not 1024 <= int(raw) <= 65535 - len(SWITCH_NAMES):
        raise UserError(f"{BASE_PORT_ENV}={raw!r} is not a usable TCP port (1024-65532); unset it or fix it")
    return int(raw)


def port_for(name: str) -> int:
    return base_port() + SWITCH_NAMES.index(name)


# ----------------------------------------------------------------------------------------- credentials
def read_credentials(path: Path) -> dict[str, str]:
    """The switch login from `path`, which must be a YAML mapping readable by its owner only."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UserError(
            f"switch credentials file {path} does not exist; `hisguard lab up` creates it"
        ) from None
    mode = st.st_mode & 0o777
    if mode not in (0o600, 0o400):
        raise UserError(
            f"switch credentials file {path} has mode {mode:04o}; it holds passwords, so it must be "
            f"0600 or 0400: run `chmod 600 {path}`"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise UserError(
            f"switch credentials file {path} is not valid YAML ({err.__class__.__name__})"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) and data[k] for k in CREDENTIAL_KEYS
    ):
        raise UserError(
            f"switch credentials file {path} must map {', '.join(CREDENTIAL_KEYS)} to non-empty strings; "
            "delete it and run `hisguard lab up` to generate a new one"
        )
    return {k: data[k] for k in CREDENTIAL_KEYS}


def ensure_credentials(state_dir: Path) -> Path:
    """Create the lab switches' login once (random password and enable secret); return its path."""
    path = credentials_file(state_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = yaml.safe_dump(
            {
                "username": USERNAME,
                "password": secrets.token_urlsafe(18),
                "enable_secret": secrets.token_urlsafe(18),
            },
            sort_keys=False,
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(
                "# Login of the lab's emulated switches (generated by hisguard lab up). Keep it 0600.\n"
            )
            out.write(body)
    read_credentials(path)  # validates mode and content
    return path


# ------------------------------------------------------------------------------------------- processes
def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]  # empty for a zombie


def _arg(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


def _running(state_dir: Path, name: str) -> tuple[int, int] | None:
    """(pid, port) of the switch's launcher when its pidfile names a live launcher of this lab."""
    try:
        pid = int(pid_file(state_dir, name).read_text().strip())
    except (OSError, ValueError):
        return None
    argv = _cmdline(pid)
    if (
        LAUNCHER_MODULE not in argv
        or _arg(argv, "--name") != name
        or _arg(argv, "--state-dir") != str(Path(state_dir).resolve())
    ):
        return None
    port = _arg(argv, "--port")
    return (pid, int(port)) if port and port.isdigit() else None


def _launchers_on(port: int) -> list[int]:
    """Pids of lab switch launchers (of any checkout) configured for `port`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = _cmdline(int(entry.name))
            if LAUNCHER_MODULE in argv and _arg(argv, "--port") == str(port):
                pids.append(int(entry.name))
    return pids


def _tcp_open(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((LISTEN_ADDRESS, port), timeout=timeout):
            return True
    except OSError:
        return False


def _answers_ssh(port: int) -> bool:
    try:
        with socket.create_connection((LISTEN_ADDRESS, port), timeout=1.0) as sock:
            sock.settimeout(1.0)
            return sock.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaps it when it is our own child
    return bool(_cmdline(pid))


def _spawn(state_dir: Path, name: str, port: int, credentials: Path) -> subprocess.Popen:
    src = str(Path(__file__).resolve().parents[2])  # .../src, so the child imports this same hisguard
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    argv = [
        sys.executable,
        "-m",
        LAUNCHER_MODULE,
        "--name",
        name,
        "--port",
        str(port),
        "--credentials",
        str(credentials),
        "--state-dir",
        str(state_dir),
    ]
    with open(log_file(state_dir, name), "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=state_dir,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
    pid_file(state_dir, name).write_text(f"{proc.pid}\n")
    return proc


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while _alive(pid):
        time.sleep(0.05)


def _last_log_line(state_dir: Path, name: str) -> str:
    try:
        lines = log_file(state_dir, name).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _wait_ready(state_dir: Path, started: dict[str, subprocess.Popen]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    pending = dict(started)
    while pending:
        for name, proc in list(pending.items()):
            port = port_for(name)
            if proc.poll() is not None:
                pid_file(state_dir, name).unlink(missing_ok=True)
                last = _last_log_line(state_dir, name)
                raise UserError(
                    f"switch {name} exited (code {proc.returncode}) before answering SSH on "
                    f"{LISTEN_ADDRESS}:{port}; see {log_file(state_dir, name)}"
                    + (f": {last}" if last else "")
                )
            if _answers_ssh(port):
                del pending[name]
        if pending and time.monotonic() > deadline:
            name = next(iter(pending))
            _stop(pending[name].pid)
            pid_file(state_dir, name).unlink(missing_ok=True)
            raise UserError(
                f"switch {name} did not answer SSH on {LISTEN_ADDRESS}:{port_for(name)} within "
                f"{START_TIMEOUT:.0f} s (stopped it); see {log_file(state_dir, name)}"
            )
        time.sleep(0.05)
    for proc in started.values():
        proc.returncode = 0  # detached on purpose: `down` stops it by pidfile; silences Popen.__del__


def _write_known_hosts(state_dir: Path) -> None:
    lines = []
    for name in SWITCH_NAMES:
        running = _running(state_dir, name)
        pub = host_key_file(state_dir, name).with_suffix(".host_key.pub")
        if running and pub.exists():
            kind, blob = pub.read_text().split()[:2]
            lines.append(f"[{LISTEN_ADDRESS}]:{running[1]} {kind} {blob}\n")
    tmp = known_hosts_file(state_dir).with_name("known_hosts.tmp")
    tmp.write_text("".join(lines))
    tmp.replace(known_hosts_file(state_dir))


# ---------------------------------------------------------------------------------------------- the API
def up(state_dir: Path) -> list[str]:
    """Start the switches that are not running; return the names started (empty when all were up)."""
    state_dir = Path(state_dir).resolve()
    credentials = ensure_credentials(state_dir)
    switch_dir(state_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    started: dict[str, subprocess.Popen] = {}
    try:
        for name in SWITCH_NAMES:
            if _running(state_dir, name):
                continue
            pid_file(state_dir, name).unlink(missing_ok=True)
            port = port_for(name)
            # One lab per machine: a switch left by another checkout's lab gives way, as its containers do.
            for pid in _launchers_on(port):
                _stop(pid)
            if _tcp_open(port):
                raise UserError(
                    f"cannot start switch {name}: {LISTEN_ADDRESS}:{port} is already in use by another "
                    f"program; stop it, or set {BASE_PORT_ENV} to a free range of {len(SWITCH_NAMES)} ports"
                )
            started[name] = _spawn(state_dir, name, port, credentials)
    finally:
        _wait_ready(state_dir, started)
        _write_known_hosts(state_dir)
    return list(started)


def down(state_dir: Path) -> list[str]:
    """Stop every switch process this lab started (by pidfile); return the names stopped."""
    state_dir = Path(state_dir).resolve()
    stopped = []
    for name in SWITCH_NAMES:
        running = _running(state_dir, name)
        if running:
            _stop(running[0])
            stopped.append(name)
        pid_file(state_dir, name).unlink(missing_ok=True)
    if switch_dir(state_dir).is_dir():
        _write_known_hosts(state_dir)
    return stopped


def status(state_dir: Path) -> dict[str, bool]:
    """Per switch: True when its launcher is alive and its SSH port accepts a connection."""
    state_dir = Path(state_dir).resolve()
    result = {}
    for name in SWITCH_NAMES:
        running = _running(state_dir, name)
        result[name] = bool(running) and _tcp_open(running[1])
    return result


def inventory_hosts(state_dir: Path) -> dict[str, dict]:
    """Hostvars of each switch for the lab inventory (group network_devices)."""
    state_dir = Path(state_dir).resolve()
    hosts = {}
    for name in SWITCH_NAMES:
        seed = load_seed(name)
        running = _running(state_dir, name)
        mgmt = seed["svis"][seed["mgmt_vlan"]]
        hosts[name] = {
            "ansible_host": LISTEN_ADDRESS,
            "ansible_port": running[1] if running else port_for(name),
            "hisguard_switch_role": seed["role"],
            "hisguard_switch_model": seed["platform"]["model"],
            # As configured on the emulated SVI; documentation only, nothing connects to it.
            "hisguard_switch_mgmt_interface": f"Vlan{seed['mgmt_vlan']}",
            "hisguard_switch_mgmt_address": str(mgmt["address"]).split("/")[0],
            "hisguard_switch_primary_uplink": seed["uplinks"]["primary"],
            "hisguard_switch_backup_uplink": seed["uplinks"]["backup"],
        }
    return hosts


def group_vars(state_dir: Path) -> dict:
    """group_vars of network_devices: how Ansible reaches the switches; secrets stay in the 0600 file."""
    creds = credentials_file(Path(state_dir).resolve())
    read = f"(lookup('ansible.builtin.file', '{creds}') | from_yaml)"
    return {
        "ansible_connection": "ansible.netcommon.network_cli",
        "ansible_network_os": "cisco.ios.ios",
        "ansible_user": f"{{{{ {read}.username }}}}",
        "ansible_password": f"{{{{ {read}.password }}}}",
        "ansible_become": True,
        "ansible_become_method": "enable",
        "ansible_become_password": f"{{{{ {read}.enable_secret }}}}",
        # network_cli (paramiko) only reads ~/.ssh/known_hosts; the switches' keys are in
        # hisguard_switch_known_hosts, which hisguard.infosec's netmiko modules check strictly.
        "ansible_host_key_checking": False,
        "hisguard_switch_known_hosts": str(known_hosts_file(Path(state_dir).resolve())),
    }


def set_rejected_commands(state_dir: Path, name: str, patterns: list[str]) -> Path:
    """Make switch `name` refuse configuration commands matching any of `patterns` (regular
    expressions, searched in the stripped command line); an empty list lifts the refusal.
    The running switch picks the change up on its next configuration command."""
    if name not in SWITCH_NAMES:
        raise UserError(f"unknown lab switch {name!r}; the lab has {', '.join(SWITCH_NAMES)}")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise UserError(f"reject pattern {pattern!r} is not a valid regular expression: {err}") from None
    path = reject_file(Path(state_dir).resolve(), name)
    if not patterns:
        path.unlink(missing_ok=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{p}\n" for p in patterns))
    tmp.replace(path)
    return path
