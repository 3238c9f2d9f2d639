"""The lab image: a systemd Debian 12 image built offline with debootstrap, cached by recipe hash."""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from hisguard import paths
from hisguard.errors import UserError
from hisguard.lab import podman

RECIPE_DIR = Path(__file__).with_name("image")
RECIPE_FILES = ("packages.txt", "setup-rootfs.sh", "build-mirror.sh")
REPOSITORY = "localhost/hisguard-lab"
# molecule scenarios name this tag; it always points at the newest build.
LATEST = f"{REPOSITORY}:latest"
SUITE = "bookworm"


def recipe_hash() -> str:
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update(name.encode() + b"\0" + (RECIPE_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


def image_ref() -> str:
    return f"{REPOSITORY}:{recipe_hash()}"


def packages() -> list[str]:
    lines = (RECIPE_DIR / "packages.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def debian_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line format)."""
    files = [*sorted(sources_dir.glob("sources.list.d/*.sources")), sources_dir / "sources.list"]
    files += sorted(sources_dir.glob("sources.list.d/*.list"))
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text()
        for block in re.split(r"\n\s*\n", text):
            uri = re.search(r"^URIs:\s*(\S+)", block, re.M)
            if uri and re.search(rf"^Suites:.*\b{SUITE}\b(?!-)", block, re.M) and "debian" in uri.group(1):
                return uri.group(1)
        for match in re.finditer(rf"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+{SUITE}\s", text, re.M):
            if "debian" in match.group(1):
                return match.group(1)
    raise UserError("no Debian bookworm mirror in /etc/apt sources: the lab image is built from it")


def ensure_image(log: Callable[[str], None] = print) -> str:
    """Return the image reference, building it first when its recipe changed."""
    ref = image_ref()
    lock_path = paths.var_dir() / "lab" / "image.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # molecule and `lab up` may build at the same time
        if not podman.exists("image", ref):
            build(ref, log)
        podman.run("tag", ref, LATEST)
    return ref


def build(ref: str, log: Callable[[str], None]) -> None:
    for tool in ("debootstrap", "chroot", "tar"):
        if shutil.which(tool) is None:
            raise UserError(f"{tool} is missing: run `make setup` to install the lab's Debian packages")
    rootfs = paths.var_dir() / "lab" / "build" / "rootfs"
    if rootfs.exists():
        _umount_all(rootfs)
        shutil.rmtree(rootfs)
    rootfs.mkdir(parents=True)
    logfile = rootfs.parent / "build.log"
    log(f"building lab image {ref} (debootstrap; about 2 minutes; log: {logfile})")
    with logfile.open("w") as out:

        def sh(*cmd: str) -> None:
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                raise UserError(f"lab image build failed at `{' '.join(cmd[:4])} ...`: see {logfile}")

        try:
            sh("debootstrap", "--variant=minbase", SUITE, str(rootfs), debian_mirror())
            policy = rootfs / "usr/sbin/policy-rc.d"
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
            sh("mount", "-t", "proc", "proc", str(rootfs / "proc"))
            sh("mount", "--bind", "/dev", str(rootfs / "dev"))
            chroot_env = ("env", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
            sh("chroot", str(rootfs), *chroot_env, "apt-get", "update", "-q")
            sh(
                "chroot",
                str(rootfs),
                *chroot_env,
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                *packages(),
            )
            for script in ("build-mirror.sh", "setup-rootfs.sh"):
                shutil.copy(RECIPE_DIR / script, rootfs / "tmp" / script)
                sh("chroot", str(rootfs), *chroot_env, "bash", f"/tmp/{script}")
                (rootfs / "tmp" / script).unlink()
            sh("chroot", str(rootfs), "apt-get", "clean")
            shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
            (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
            policy.unlink()
        finally:
            _umount_all(rootfs)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [
                "podman",
                "import",
                "--change",
                'CMD ["/sbin/init"]',
                "--change",
                "STOPSIGNAL SIGRTMIN+3",
                "-",
                ref,
            ],
            stdin=tar.stdout,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=podman.env(),
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise UserError(f"podman import of the lab image failed: see {logfile}")
    shutil.rmtree(rootfs)
    _remove_stale_images(ref)
    log(f"built {ref}")


def _umount_all(rootfs: Path) -> None:
    for sub in ("dev", "proc"):
        target = rootfs / sub
        if os.path.ismount(target):
            subprocess.run(["umount", "-l", str(target)], check=False)


def _remove_stale_images(keep: str) -> None:
    proc = podman.run("images", "--format", "{{.Repository}}:{{.Tag}}", REPOSITORY, check=False)
    for ref in proc.stdout.split():
        if ref not in (keep, LATEST) and ref.startswith(REPOSITORY + ":"):
            podman.run("rmi", ref, check=False)
