"""Benchmark: `hisguard failover uplink --apply` from its start to the device verified, against the
same change made with cisco.ios.ios_config over network_cli, in the same run, on fake-switches.

    python scripts/bench/bench_failover.py [--rounds 3]

Starts its own switches on 127.0.0.1 (first free ports from 2261) in a temporary directory with a
temporary HISGUARD_VAR; the shared lab switches are not touched. Each round: hisguard failover
(timed), hisguard fail-back, ios_config failover (timed: shut the primary, enable the backup, save,
read the running config back and check it), ios_config fail-back. Prints the medians and their ratio.
Target: hisguard failover verified in under 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from hisguard import cli  # noqa: E402
from hisguard.lab import switches  # noqa: E402
from hisguard.runner import run_playbook  # noqa: E402

DEVICE = "core-sw-01"
TARGET_SECONDS = 5.0

IOS_PLAYBOOK = """\
- name: The same uplink change with cisco.ios (network_cli)
  hosts: "{{ bench_device }}"
  gather_facts: false
  tasks:
    - name: Shut the active uplink down
      cisco.ios.ios_config:
        parents: "interface {{ bench_off }}"
        lines: [shutdown]
    - name: Enable the other uplink and save
      cisco.ios.ios_config:
        parents: "interface {{ bench_on }}"
        lines: [no shutdown]
        save_when: modified
    - name: Read both ports back
      cisco.ios.ios_command:
        commands:
          - "show running-config interface {{ bench_off }}"
          - "show running-config interface {{ bench_on }}"
      register: bench_ports
    - name: Verified
      ansible.builtin.assert:
        that:
          - "' shutdown' in bench_ports.stdout[0]"
          - "' shutdown' not in bench_ports.stdout[1]"
"""


def free_base_port(start=2261, count=3):
    for base in range(start, 2400, count):
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise SystemExit("no free port range on 127.0.0.1 from 2261")


def parse_time(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def hisguard_failover(inventory: Path, back: bool) -> tuple[float, float, float]:
    """(seconds from start to the device verified, device seconds, whole run seconds)."""
    argv = ["failover", "uplink", "--device", DEVICE, "--apply", "-q", "-i", str(inventory)]
    if back:
        argv.append("--back")
    out = io.StringIO()
    started = time.time()
    with contextlib.redirect_stdout(out):
        code = cli.main(argv)
    whole = time.time() - started
    text = out.getvalue()
    if code != 0:
        raise SystemExit(f"hisguard failover failed:\n{text}")
    steps_line = next(line for line in text.splitlines() if line.startswith("steps: "))
    data = json.loads(Path(steps_line.removeprefix("steps: ")).read_text())
    verified = [s for s in data["steps"] if s["step"] == "verify" and s["status"] == "ok"][-1]
    return parse_time(verified["time"]) - started, data["details"]["seconds"]["to_verified"], whole


def ios_failover(inventory: Path, playbook: Path, back: bool) -> tuple[float, float]:
    """(seconds from start to the verification task done, whole run seconds)."""
    primary, backup = "TenGigabitEthernet1/1/1", "TenGigabitEthernet1/1/2"
    off, on = (backup, primary) if back else (primary, backup)
    verified_at = []

    def on_event(event: dict) -> None:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok" and data.get("task") == "Verified":
            verified_at.append(time.time())

    started = time.time()
    result = run_playbook(
        str(playbook),
        inventory=inventory,
        extravars={"bench_device": DEVICE, "bench_off": off, "bench_on": on},
        on_event=on_event,
    )
    whole = time.time() - started
    if not result.ok or not verified_at:
        raise SystemExit(f"ios_config run failed: see {result.artifacts_dir / 'stdout'}")
    return verified_at[0] - started, whole


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if "failover" not in cli.COMMAND_MODULES:
        cli.COMMAND_MODULES = (*cli.COMMAND_MODULES, "failover")

    with tempfile.TemporaryDirectory(prefix="hisguard-bench-") as tmp:
        tmp_path = Path(tmp)
        state, var, inv = tmp_path / "state", tmp_path / "var", tmp_path / "inventory"
        for path in (state, var, inv / "group_vars"):
            path.mkdir(parents=True)
        os.environ[switches.BASE_PORT_ENV] = str(free_base_port())
        os.environ["HISGUARD_VAR"] = str(var)
        os.environ.pop("HISGUARD_RESULTS_FILE", None)
        switches.up(state)
        try:
            hosts = {"all": {"children": {"network_devices": {"hosts": switches.inventory_hosts(state)}}}}
            (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
            (inv / "group_vars" / "network_devices.yml").write_text(
                yaml.safe_dump(switches.group_vars(state))
            )
            playbook = tmp_path / "ios_config_failover.yml"
            playbook.write_text(IOS_PLAYBOOK)
            ours, device, ours_whole, ios, ios_whole = [], [], [], [], []
            for round_ in range(1, args.rounds + 1):
                to_verified, on_device, whole = hisguard_failover(inv / "hosts.yml", back=False)
                ours.append(to_verified)
                device.append(on_device)
                ours_whole.append(whole)
                hisguard_failover(inv / "hosts.yml", back=True)
                to_verified_ios, whole_ios = ios_failover(inv / "hosts.yml", playbook, back=False)
                ios.append(to_verified_ios)
                ios_whole.append(whole_ios)
                ios_failover(inv / "hosts.yml", playbook, back=True)
                print(
                    f"round {round_}: hisguard {to_verified:.2f} s to verified (device {on_device:.2f} s, "
                    f"run {whole:.2f} s); ios_config {to_verified_ios:.2f} s to verified "
                    f"(run {whole_ios:.2f} s)",
                    flush=True,
                )
        finally:
            switches.down(state)

    median = statistics.median
    ratio = median(ours) / median(ios)
    print()
    print(f"{'':<34}{'median':>9}{'min':>9}{'max':>9}")
    for label, values in (
        ("hisguard failover -> verified", ours),
        ("  of which on the device", device),
        ("  whole hisguard run", ours_whole),
        ("ios_config failover -> verified", ios),
        ("  whole ios_config run", ios_whole),
    ):
        print(f"{label:<34}{median(values):>8.2f}s{min(values):>8.2f}s{max(values):>8.2f}s")
    print(f"ratio hisguard / ios_config (to verified): {ratio:.2f}")
    verdict = "met" if median(ours) < TARGET_SECONDS else "NOT met"
    print(f"target: verified in under {TARGET_SECONDS:.0f} s: {verdict} ({median(ours):.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
