"""ansible-pull on a workstation: playbooks/local.yml from a git checkout, offline, in a throwaway container
from the lab image (no network), with ansible-core from the wheelhouse (scripts/build-wheelhouse.sh)."""

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from hisguard.lab import image, podman

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / "var" / "wheelhouse"
CONTAINER = f"hisguard-pull-test-{os.getpid()}"
RESULTS = "/var/lib/hisguard/results.json"
WORKSTATION_CONTROLS = {
    "P1.3.6",
    "P1.3.7",
    "P1.4.13",
    "P2.5.3",
    "P1.3.8",
    "P1.4.14",
    "P2.5.4",
    "P1.3.9",
    "P1.4.6",
}
# The site settings the IT department installs on its workstations (here: the lab's).
SITE_SETTINGS = """\
hisguard_intranet_cidrs: [10.77.10.0/24]
hisguard_mirror:
  host: mirror.lab.internal
  address: 10.77.10.12
  apt_url: http://mirror.lab.internal/debian
  clamav_url: http://mirror.lab.internal/clamav
  clamav_official_databases: []
  clamav_custom_databases: [hisguard-eicar.hdb]
hisguard_internet_canaries:
  - {address: 198.51.100.80, tcp_port: 80, http_url: "http://198.51.100.80/", dns_server: 198.51.100.80,
     dns_name: canary.example.com}
"""


def sh(script: str) -> subprocess.CompletedProcess:
    return podman.run("exec", CONTAINER, "bash", "-euo", "pipefail", "-c", script, check=False)


@pytest.fixture(scope="module")
def workstation():
    if not list(WHEELHOUSE.glob("ansible_core-*.whl")):
        pytest.skip("no ansible-core wheelhouse: run scripts/build-wheelhouse.sh (make setup)")
    podman.run(
        *("run", "-d", "--name", CONTAINER, "--hostname", "pull-ws", "--network", "none", "--systemd=always"),
        *(image.image_ref(), "/sbin/init"),
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bundle = Path(tmp) / "hisguard.bundle"
            subprocess.run(["git", "-C", str(ROOT), "bundle", "create", str(bundle), "HEAD"], check=True)
            podman.run("cp", str(bundle), f"{CONTAINER}:/srv/hisguard.bundle")
        podman.run("cp", str(WHEELHOUSE), f"{CONTAINER}:/srv/wheelhouse")
        proc = sh(
            "python3 -m venv /opt/ansible && "
            "/opt/ansible/bin/pip install -q --no-index --find-links /srv/wheelhouse ansible-core && "
            "git init -q --bare -b main /srv/hisguard.git && "
            "git -C /srv/hisguard.git fetch -q /srv/hisguard.bundle HEAD:refs/heads/main"
        )
        assert proc.returncode == 0, proc.stderr
        podman.run(
            "exec",
            "-i",
            CONTAINER,
            "bash",
            "-c",
            "install -d /etc/hisguard && cat > /etc/hisguard/local.yml",
            input=SITE_SETTINGS,
        )
        yield CONTAINER
    finally:
        podman.run("rm", "-f", "-t", "0", CONTAINER, check=False)


def test_ansible_pull_audits_the_workstation_and_changes_nothing(workstation):
    before = sh("dpkg-query -W -f '${Package} ${Status}\\n' | sha256sum; ls -lR /etc | sha256sum").stdout
    proc = sh(
        f"HISGUARD_RESULTS_FILE={RESULTS} /opt/ansible/bin/ansible-pull -U /srv/hisguard.git "
        "-d /var/lib/hisguard/checkout playbooks/local.yml"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    recap = re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", proc.stdout)
    assert recap, proc.stdout[-3000:]
    assert recap.group(1) == "0", "audit mode changed the host"
    after = sh("dpkg-query -W -f '${Package} ${Status}\\n' | sha256sum; ls -lR /etc | sha256sum").stdout
    assert after == before

    results = json.loads(sh(f"cat {RESULTS}").stdout)["results"]
    assert {r["host"] for r in results} == {"localhost"}
    assert {r["control"] for r in results} >= WORKSTATION_CONTROLS
    # The image is not hardened (no module blocks, no udev rule): the audit says so.
    removable = next(r for r in results if r["control"] == "P1.3.6")
    assert removable["status"] == "fail"
