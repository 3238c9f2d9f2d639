"""P1.3.9 on the shared lab, audit only: ws-03 (default route via inet-gw, re-added at boot by
lab-default-route.service) fails, ws-01 passes, and the audit changes nothing on either host.
The lab is never enforced here; molecule/network_isolation covers enforce."""

import json
from pathlib import Path

import pytest

from hisguard.lab import lab, podman
from hisguard.lab.topology import CANARY_IP, INET_GW_INTRANET, host
from hisguard.runner import run_playbook

pytestmark = pytest.mark.lab
PLAYBOOK = Path(__file__).parent / "playbooks" / "network_isolation_audit.yml"
HOSTS = ("ws-01", "ws-03")
# /etc (metadata and content), the routes of every table and the nftables ruleset.
SNAPSHOT = (
    "find /etc -xdev -printf '%y %#m %u:%g %s %T@ %p -> %l\\n' | LC_ALL=C sort && "
    "find /etc -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum && "
    "ip -4 route show table all && ip -6 route show table all && nft list ruleset"
)


def snapshot(name: str) -> str:
    done = podman.run("exec", host(name).container, "sh", "-c", SNAPSHOT, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def audit():
    lab.up(log=lambda _msg: None)  # a no-op on a running lab
    before = {name: snapshot(name) for name in HOSTS}
    run = run_playbook(str(PLAYBOOK), limit=",".join(HOSTS))
    after = {name: snapshot(name) for name in HOSTS}
    results = json.loads(run.results_file.read_text(encoding="utf-8"))
    return {"run": run, "before": before, "after": after, "results": results}


def result(audit: dict, name: str, control: str) -> dict:
    found = [r for r in audit["results"]["results"] if r["host"] == name and r["control"] == control]
    assert len(found) == 1, f"expected one {control} result for {name}, got {found}"
    return found[0]


def test_run_succeeds_and_changes_nothing(audit):
    assert audit["run"].ok, audit["run"].status
    for name in HOSTS:
        assert audit["results"]["run"]["stats"][name]["changed"] == 0
        assert audit["before"][name] == audit["after"][name], f"the audit changed {name}"


def test_misrouted_ws03_fails(audit):
    found = result(audit, "ws-03", "P1.3.9")
    assert found["status"] == "fail"
    observed = " ".join(found["observed"])
    assert f"default via {INET_GW_INTRANET} dev eth0" in observed
    assert "lab-default-route.service (enabled)" in observed
    assert f"HTTP http://{CANARY_IP}:80/: answered" in observed
    assert found["remediation"]
    assert found["evidence"]["canary_routes"][CANARY_IP]["gateway"] == INET_GW_INTRANET


def test_isolated_ws01_passes(audit):
    found = result(audit, "ws-01", "P1.3.9")
    assert found["status"] == "pass", found["observed"]
    probes = found["evidence"]["probes"]
    assert {p["kind"] for p in probes} == {"tcp", "http", "dns"}
    assert not any(p["reachable"] for p in probes)
    assert all(p["ms"] <= 2500 for p in probes)


@pytest.mark.parametrize("name", HOSTS)
def test_intranet_hosts_are_not_judged_under_p146(audit, name):
    assert result(audit, name, "P1.4.6")["status"] == "not_applicable"
