#!/usr/bin/env python3
"""Benchmark: the fleet. N workstation containers; wall time and controller peak memory of a full audit,
a full enforce and a second enforce, against the same N running only ansible.builtin.setup (the floor of
any Ansible-based audit), and 36 no-op tasks per host (`noop`: what the audit's task count alone costs).

    python scripts/bench/bench_fleet.py [--sizes 10,25,50] [--runs floor,noop,audit,enforce,enforce2] [--keep]

Hosts: `hisguard-bench-ws-NN` from the lab image (systemd, ~35 MB each), provisioned like the lab's
compliant workstation (provision/common.sh + workstation.sh, no seeds), on their own internal podman
network `hisguard-bench` (10.77.70.0/24). The lab's mirror is connected to that network as 10.77.70.2
for the run (apt and ClamAV signatures for enforce) and disconnected at the end; the shared lab hosts are
not touched otherwise. Every size starts from freshly provisioned hosts. Containers, network and the
mirror's extra interface are removed on exit, error or Ctrl-C (unless --keep).

Full audit / enforce = playbooks/controls.yml with hisguard_mode audit / enforce on the inventory
var/bench/fleet/inventory (the lab's group_vars, the bench hosts in `workstations` and `intranet`). Each
run starts with cold SSH connections (its own ControlPath directory). Peak memory is the largest sum, over
samples every 0.5 s, of the PSS of ansible-playbook, its forks and their ssh processes (ControlMasters
included). CPU s is the user + system CPU time of ansible-playbook and every process it reaped (forks,
ssh clients): on a small controller shared with the hosts it is the scarce resource, and it varies far
less with the machine's load than wall time. Hosts CPU s is what the bench containers used during the
run (their cgroups): here the hosts share the controller's CPUs, so it is part of the wall time, not of
the controller's cost. Tasks/host is the PLAY RECAP's ok + skipped of the first host. Results: printed,
and written to var/bench/fleet.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from hisguard import paths  # noqa: E402
from hisguard.lab import image, inventory, podman, sshkeys  # noqa: E402
from hisguard.lab.lab import PROVISION_DIR, client_key, state_dir  # noqa: E402

LABEL = "hisguard.bench"
NETWORK, SUBNET, GATEWAY = "hisguard-bench", "10.77.70.0/24", "10.77.70.1"
MIRROR_CONTAINER, MIRROR_IP = "hisguard-mirror", "10.77.70.2"
FIRST_HOST_OCTET = 10
PROVISION_WORKERS = 4
RUNS = {
    "floor": ("scripts/bench/fleet_floor.yml", {}),
    "noop": ("scripts/bench/fleet_noop.yml", {}),
    "audit": ("playbooks/controls.yml", {"hisguard_mode": "audit"}),
    "enforce": ("playbooks/controls.yml", {"hisguard_mode": "enforce"}),
    "enforce2": ("playbooks/controls.yml", {"hisguard_mode": "enforce"}),
}
RECAP = re.compile(
    r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M
)


def bench_dir() -> Path:
    return paths.var_dir() / "bench" / "fleet"


def host_name(number: int) -> str:
    return f"bench-ws-{number:02d}"


def host_ip(number: int) -> str:
    return f"10.77.70.{FIRST_HOST_OCTET + number}"


def mac(ip: str) -> str:
    return "02:4c:" + ":".join(f"{int(octet):02x}" for octet in ip.split("."))


# ---- the bench fleet ------------------------------------------------------------------------------


def setup_network() -> None:
    podman.run(
        "network", "create", "--internal", "--subnet", SUBNET, "--gateway", GATEWAY, "--label", LABEL, NETWORK
    )
    podman.run("network", "connect", "--ip", MIRROR_IP, NETWORK, MIRROR_CONTAINER)


def cleanup() -> None:
    for name in podman.names("container", LABEL):
        podman.run("rm", "-f", "-t", "0", name, check=False)
    if podman.exists("network", NETWORK):
        podman.run("network", "disconnect", "-f", NETWORK, MIRROR_CONTAINER, check=False)
        podman.run("network", "rm", "-f", NETWORK, check=False)


def start_host(number: int, ref: str, host_key: Path) -> None:
    name, ip = host_name(number), host_ip(number)
    container = f"hisguard-{name}"
    podman.run(
        *("run", "-d", "--name", container, "--hostname", name, "--systemd=always", "--label", LABEL),
        *("--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "AUDIT_CONTROL"),
        *("--network", f"{NETWORK}:ip={ip},mac={mac(ip)}"),
        *("--add-host", f"mirror.lab.internal:{MIRROR_IP}", "--add-host", f"mirror:{MIRROR_IP}"),
        *(ref, "/sbin/init"),
    )
    deadline = time.monotonic() + 90
    while podman.run("exec", container, "systemctl", "is-system-running", check=False).stdout.strip() not in (
        "running",
        "degraded",
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{container}: systemd did not boot in 90 s")
        time.sleep(0.5)
    podman.run("exec", container, "install", "-d", "-m", "0700", "/tmp/lab-provision")
    files = {
        "authorized_keys": client_key().with_suffix(".pub"),
        "ssh_host_ed25519_key": host_key,
        "ssh_host_ed25519_key.pub": host_key.with_suffix(".pub"),
    }
    for target, source in files.items():
        podman.run("cp", str(source), f"{container}:/tmp/lab-provision/{target}")
    for script in ("common", "workstation"):
        proc = podman.run(
            *("exec", "-i", "-e", "LAB_SEEDS=", container, "bash", "-s"),
            input=(PROVISION_DIR / f"{script}.sh").read_text(),
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{container}: {script}.sh failed: {podman.last_line(proc.stderr)}")
    podman.run("exec", container, "rm", "-rf", "/tmp/lab-provision")


def start_fleet(count: int, ref: str, host_key: Path) -> float:
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(PROVISION_WORKERS) as pool:
        for future in [pool.submit(start_host, n, ref, host_key) for n in range(1, count + 1)]:
            future.result()
    return time.monotonic() - started


def remove_hosts() -> None:
    names = podman.names("container", LABEL)
    if names:
        podman.run("rm", "-f", "-t", "0", *names)


def write_inventory(count: int, host_key: Path) -> Path:
    """The lab's group_vars with the bench hosts; the mirror at its bench-network address."""
    inv = bench_dir() / "inventory"
    lab = inventory.build(state_dir(), client_key())
    all_vars = lab["group_vars/all.yml"]
    all_vars["hisguard_intranet_cidrs"] = [SUBNET]
    all_vars["hisguard_mirror"]["address"] = MIRROR_IP
    known_hosts = bench_dir() / "known_hosts"
    known_hosts.write_text(
        "".join(sshkeys.known_hosts_line(host_ip(n), host_key) + "\n" for n in range(1, count + 1))
    )
    linux_vars = lab["group_vars/linux.yml"]
    linux_vars["ansible_ssh_common_args"] = (
        f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes "
        "-o ControlMaster=auto -o ControlPersist=60s"
    )
    hosts = {
        host_name(n): {
            "ansible_host": host_ip(n),
            "hisguard_interfaces": [{"address": host_ip(n), "mac": mac(host_ip(n))}],
        }
        for n in range(1, count + 1)
    }
    members = {name: {} for name in hosts}
    files = {
        "hosts.yml": {
            "all": {
                "children": {
                    "linux": {"hosts": hosts},
                    "workstations": {"hosts": members},
                    "intranet": {"hosts": members},
                }
            }
        },
        "group_vars/all.yml": all_vars,
        "group_vars/linux.yml": linux_vars,
    }
    for rel, data in files.items():
        path = inv / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return inv


# ---- measuring ------------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _masters(control_dir: str) -> list[int]:
    """ssh ControlMasters of this run (daemonized, so outside the process tree): by their ControlPath."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if control_dir.encode() in Path(f"/proc/{entry.name}/cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _children_cpu() -> float:
    """User + system CPU seconds of every reaped descendant (ansible-playbook, its forks, ssh)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cgroup_paths(count: int) -> list[str]:
    """The cgroup of every bench host (podman's CgroupPath, below the cgroup mount)."""
    names = [f"hisguard-{host_name(n)}" for n in range(1, count + 1)]
    out = podman.run("inspect", "--format", "{{.State.CgroupPath}}", *names).stdout
    return out.split()


def hosts_cpu_s(cgroups: list[str]) -> float:
    """CPU seconds the bench hosts have used so far: cgroup v1 cpuacct.usage, else v2 cpu.stat."""
    total = 0.0
    for cgroup in cgroups:
        v1 = Path(f"/sys/fs/cgroup/cpuacct{cgroup}/cpuacct.usage")
        if v1.exists():
            total += int(v1.read_text()) / 1e9
            continue
        for line in Path(f"/sys/fs/cgroup{cgroup}/cpu.stat").read_text().splitlines():
            if line.startswith("usage_usec "):
                total += int(line.split()[1]) / 1e6
    return total


def tree_pss_mib(root: int, control_dir: str) -> float:
    tree, pids, todo = _children(), set(), [root, *_masters(control_dir)]
    while todo:
        pid = todo.pop()
        if pid not in pids:
            pids.add(pid)
            todo += tree.get(pid, [])
    return sum(_pss_kib(pid) for pid in pids) / 1024


def run_playbook(name: str, inv: Path, count: int, cgroups: list[str]) -> dict:
    playbook, extra = RUNS[name]
    results_file = bench_dir() / "results" / f"{count}-{name}.json"
    results_file.unlink(missing_ok=True)
    log = bench_dir() / "logs" / f"{count}-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hg-cp-") as control_dir:
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": control_dir,
            "HISGUARD_RESULTS_FILE": str(results_file),
        }
        cmd = ["ansible-playbook", "-i", str(inv), str(ROOT / playbook)]
        if extra:
            cmd += ["-e", json.dumps(extra)]
        peak = 0.0
        cpu_before, hosts_before = _children_cpu(), hosts_cpu_s(cgroups)
        with log.open("w") as out:
            started = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            while proc.poll() is None:
                peak = max(peak, tree_pss_mib(proc.pid, control_dir))
                time.sleep(0.5)
            wall = time.monotonic() - started
        cpu, hosts_cpu = _children_cpu() - cpu_before, hosts_cpu_s(cgroups) - hosts_before
        for pid in _masters(control_dir):  # do not leave this run's ControlMasters behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    recap = RECAP.findall(log.read_text())
    results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
    return {
        "n": count,
        "run": name,
        "rc": proc.returncode,
        "wall_s": round(wall, 1),
        "per_host_s": round(wall / count, 2),
        "cpu_s": round(cpu, 1),
        "hosts_cpu_s": round(hosts_cpu, 1),
        "tasks_per_host": int(recap[0][1]) + int(recap[0][5]) if recap else 0,
        "peak_mib": round(peak),
        "per_host_mib": round(peak / count, 1),
        "hosts_ok": sum(1 for r in recap if r[3] == "0" and r[4] == "0"),
        "changed": sum(int(r[2]) for r in recap),
        "results": len(results),
        "statuses": _count(r.get("status") for r in results),
        "log": str(log),
    }


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


# ---- main -----------------------------------------------------------------------------------------


COLUMNS = ("N", "run", "tasks/host", "wall s", "s/host", "x floor", "CPU s", "CPU/host", "CPU x floor")
COLUMNS += ("hosts CPU s", "peak MiB", "MiB/host", "hosts ok", "changed")


def table(rows: list[dict]) -> str:
    """A Markdown table (docs/benchmarks.md takes it as is)."""
    floors = {r["n"]: r for r in rows if r["run"] == "floor"}
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---:" for _ in COLUMNS) + "|"]
    for r in rows:
        cells = (
            r["n"],
            r["run"],
            r["tasks_per_host"],
            f"{r['wall_s']:.1f}",
            f"{r['per_host_s']:.2f}",
            f"{r['wall_s'] / floors[r['n']]['wall_s']:.2f}" if r["n"] in floors else "-",
            f"{r['cpu_s']:.0f}",
            f"{r['cpu_s'] / r['n']:.2f}",
            f"{r['cpu_s'] / max(floors[r['n']]['cpu_s'], 0.1):.1f}" if r["n"] in floors else "-",
            f"{r['hosts_cpu_s']:.0f}",
            r["peak_mib"],
            f"{r['per_host_mib']:.1f}",
            f"{r['hosts_ok']}/{r['n']}",
            r["changed"],
        )
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,25,50", help="comma-separated fleet sizes (max 200)")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of: {', '.join(RUNS)}")
    parser.add_argument("--keep", action="store_true", help="leave the last fleet running (for debugging)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    runs = args.runs.split(",")
    if unknown := set(runs) - set(RUNS):
        parser.error(f"unknown run(s): {', '.join(sorted(unknown))}")
    if not 1 <= sizes[0] <= sizes[-1] <= 200:
        parser.error("sizes must be between 1 and 200")
    if podman.run("exec", MIRROR_CONTAINER, "true", check=False).returncode != 0:
        parser.error("the lab's mirror is not running: `hisguard lab up` first")

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    bench_dir().mkdir(parents=True, exist_ok=True)
    host_key = sshkeys.ensure_key(bench_dir() / "ssh" / "ssh_host_ed25519_key", "root@bench-ws")
    ref = image.ensure_image(print)
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }
    rows: list[dict] = []
    cleanup()
    try:
        setup_network()
        for count in sizes:
            remove_hosts()
            seconds = start_fleet(count, ref, host_key)
            print(f"N={count}: {count} hosts started and provisioned in {seconds:.0f} s", flush=True)
            inv = write_inventory(count, host_key)
            cgroups = cgroup_paths(count)
            for name in runs:
                row = run_playbook(name, inv, count, cgroups)
                rows.append(row)
                print(
                    f"N={count} {name}: {row['wall_s']} s, peak {row['peak_mib']} MiB, rc {row['rc']}, hosts "
                    f"ok {row['hosts_ok']}/{count}, changed {row['changed']}, results {row['statuses']}",
                    flush=True,
                )
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
        return 130
    except (RuntimeError, podman.UserError) as err:  # a host or podman step failed: the message says which
        print(f"bench_fleet: {err}; cleaning up", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            cleanup()
        meta["load_after"] = os.getloadavg()
        (paths.var_dir() / "bench" / "fleet.json").write_text(
            json.dumps({**meta, "rows": rows}, indent=2) + "\n"
        )
    print()
    print(table(rows))
    print(f"load average before {meta['load_before']}, after {meta['load_after']} (var/bench/fleet.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
