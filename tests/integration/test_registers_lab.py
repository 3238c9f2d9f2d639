"""The IP register (P1.4.10, P1.3.5) and the equipment register (P2.4.1, P2.6.5) on the shared lab.

A throwaway container put by hand on the lab's intranet (10.77.10.99) is reported as unknown, and was not
seen before it came; a host whose MAC differs from the register (an edited copy of the lab's inventory)
fails. The asset CSV lists every lab host and the three switches with the serial of `show version`, and a
reconciliation with an edited copy lists the differences. Nothing on the lab hosts is changed."""

import csv
import io
import shutil

import pytest
import yaml

from hisguard import paths, registers
from hisguard.lab import image, lab, podman
from hisguard.lab.topology import HOSTS, INTRANET

pytestmark = pytest.mark.lab
INTRUDER = "hisguard-h8b-intruder"
INTRUDER_IP = "10.77.10.99"
CHECKED = ("srv-his", "srv-backup", "ws-01")  # hosts no other test attaches elsewhere
# The gateway is the controller's bridge address; the host check covers a few hosts to keep the test short.
EXTRAVARS = {
    "hisguard_infrastructure_addresses": [
        {"address": INTRANET.gateway, "name": "controller (podman bridge)"}
    ],
    "ip_register_hosts": ",".join((*CHECKED, "ws-02")),
}
SWITCHES = {"core-sw-01", "access-sw-01", "spare-sw-01"}


@pytest.fixture(scope="module")
def ip_runs(tmp_path_factory):
    lab.up(log=lambda _msg: None)  # a no-op on a running lab
    before = registers.ip_register(extravars=EXTRAVARS)
    edited = tmp_path_factory.mktemp("inventory") / "lab"
    shutil.copytree(paths.ROOT / "inventories" / "lab", edited)
    hosts_file = edited / "hosts.yml"
    inventory = yaml.safe_load(hosts_file.read_text(encoding="utf-8"))
    inventory["all"]["children"]["linux"]["hosts"]["ws-02"]["hisguard_interfaces"][0]["mac"] = (
        "02:4c:0a:4d:0a:99"
    )
    hosts_file.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    podman.run("rm", "-f", "-t", "0", INTRUDER, check=False)
    try:
        podman.run(
            "run",
            "-d",
            "--rm",
            "--name",
            INTRUDER,
            "--network",
            f"{INTRANET.name}:ip={INTRUDER_IP}",
            image.image_ref(),
            "sleep",
            "300",
        )
        during = registers.ip_register(inventory=edited, extravars=EXTRAVARS)
    finally:
        podman.run("rm", "-f", "-t", "0", INTRUDER, check=False)
    return before, during


def test_registered_hosts_pass(ip_runs):
    before, _ = ip_runs
    assert before.run.ok
    status = {r.host: r.status for r in before.hosts}
    assert set(status) == {*CHECKED, "ws-02"}
    assert all(status[name] == "pass" for name in CHECKED), status
    assert INTRUDER_IP not in [u["address"] for u in before.unknown]
    assert INTRANET.gateway not in [u["address"] for u in before.unknown]


def test_hand_added_container_is_unknown(ip_runs):
    _, during = ip_runs
    assert during.sweep.status == "fail"
    assert INTRUDER_IP in [u["address"] for u in during.unknown], during.sweep.observed
    assert during.sweep.host == "srv-backup"
    assert during.sweep.evidence["networks"] == [INTRANET.subnet]


def test_host_with_another_mac_fails(ip_runs):
    _, during = ip_runs
    ws02 = next(r for r in during.hosts if r.host == "ws-02")
    assert ws02.status == "fail"
    assert "the register says 02:4c:0a:4d:0a:99" in ws02.observed[0]
    assert {"address": "10.77.10.22", "owner": "ws-02"}.items() <= during.mac_mismatch[0].items()


@pytest.fixture(scope="module")
def assets():
    return registers.asset_register()


def test_asset_csv_has_every_device(assets):
    assert assets.run.ok and not assets.unreachable
    data = assets.csv.read_bytes()
    assert data.startswith("\ufeff资产编号,主机名".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    by_host = {row["主机名"]: row for row in rows}
    assert set(by_host) == {h.name for h in HOSTS} | SWITCHES
    assert by_host["core-sw-01"]["序列号"] == "FDO1734X1AB"
    assert all(by_host[name]["序列号"] and by_host[name]["型号"] for name in SWITCHES)
    assert by_host["ws-01"]["设备类型"] == "工作站" and by_host["ws-01"]["操作系统/软件版本"].startswith(
        "Debian"
    )


def test_reconcile_lists_the_differences(assets, tmp_path):
    lines = assets.csv.read_text(encoding="utf-8-sig").splitlines()
    edited = [lines[0]]
    for number, line in enumerate(lines[1:], start=1):
        if ",ws-04," in line:
            continue  # in use, never registered
        edited.append(f"HIS-{number:03d}" + line.replace("FDO1734X1AB", "FDO0000X000"))
    edited.append("HIS-099,ws-99,工作站,,,,,,,,10.77.10.29")  # registered, gone
    register_file = tmp_path / "设备台账.csv"
    register_file.write_text("\n".join(edited) + "\n", encoding="gb18030")
    result = registers.asset_register(reconcile=register_file, lang="en")
    found = {(d["host"], d["kind"], d["field"]) for d in result.differences}
    assert found == {
        ("core-sw-01", "mismatch", "serial"),
        ("ws-04", "missing_in_register", None),
        ("ws-99", "missing_on_floor", None),
    }
    assert result.csv.read_text(encoding="utf-8-sig").startswith("Asset number,Host,Type")
