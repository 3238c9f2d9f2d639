# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Shared by the hisguard.infosec.restic module and the backup role's host job (hisguard-backup):
argv building, the password file, the host lock, JSON parsing and clear error messages for the
restic binary (0.14 and later).

Plain Python 3 standard library only: the backup role copies this file to every backed-up host
(/usr/local/lib/hisguard/hisguard_restic.py), where the daily job imports it without Ansible.

restic 0.14 gives rc 1 for a locked repository, a wrong password and a missing repository alike
(exit codes 10-12 came with 0.17), has no JSON for init, copy, check and restore, and prints one
line per failed file on a restore. classify() reads stderr to tell the failures apart.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone

# Commands whose failure modes and output the module knows.
COMMANDS = (
    "init",
    "backup",
    "snapshots",
    "forget",
    "prune",
    "copy",
    "check",
    "restore",
    "dump",
    "ls",
    "stats",
    "unlock",
)
# Commands that only read (safe in check mode; with no_lock they write nothing at all).
READ_ONLY = ("snapshots", "check", "dump", "ls", "stats")
# Inherited variables that would override or confuse the password file and repository we pass.
SCRUBBED_ENV = (
    "RESTIC_PASSWORD",
    "RESTIC_PASSWORD_COMMAND",
    "RESTIC_REPOSITORY",
    "RESTIC_REPOSITORY_FILE",
    "RESTIC_FROM_PASSWORD",
    "RESTIC_FROM_PASSWORD_COMMAND",
    "RESTIC_FROM_REPOSITORY",
    "RESTIC_FROM_REPOSITORY_FILE",
    "RESTIC_KEY_HINT",
)
STDERR_KEEP_LINES = 20

ERROR_KINDS = (
    "data_corrupted",
    "no_space",
    "locked",
    "host_locked",
    "wrong_password",
    "password_file",
    "repo_missing",
    "repo_exists",
    "unreachable",
    "ssh_auth",
    "host_key",
    "snapshot_not_found",
    "path_not_found",
    "permission_denied",
    "incomplete",
    "usage",
    "not_installed",
    "timeout",
    "failed",
)

# (kind, pattern) in priority order: the first kind whose pattern matches any stderr line wins.
# Corruption and a full disk come first: a failed restore also prints "There were N errors".
_PATTERNS = (
    (
        "data_corrupted",
        r"Pack ID does not match|ciphertext verification failed|repository contains errors|"
        r"pack \S+ contains \d+ errors?|invalid data returned|wrong data returned|hash does not match|"
        r"unexpected end of (JSON|file)|decrypting blob .* failed|is damaged|incomplete pack file|"
        r"Load\(<data/[0-9a-f]+>.*\) returned error|error for tree [0-9a-f]+|tree [0-9a-f]+ not found|"
        r"blob [0-9a-f]+ not found|unable to load tree|LoadTree\(.*\) returned error|"
        r"ReadFull\(<data/|unexpected EOF",
    ),
    ("no_space", r"no space left on device|disk quota exceeded|file too large"),
    ("locked", r"repository is already locked|unable to create lock in backend"),
    ("wrong_password", r"wrong password or no key found"),
    (
        "password_file",
        r"Resolving password failed|an empty password is not a password|"
        r"reading repository password from stdin|Password file and command are mutually exclusive|"
        r"please specify (the )?(source )?repository password",
    ),
    ("repo_exists", r"config file already exists|repository master key and config already initialized"),
    (
        "host_key",
        r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known",
    ),
    ("ssh_auth", r"Permission denied \((publickey|password|keyboard)"),
    (
        "unreachable",
        r"ssh: connect to host|ssh: Could not resolve hostname|Connection refused|No route to host|"
        r"Connection timed out|Network is unreachable|Connection reset by peer|Connection closed by|"
        r"unable to start the sftp session|subprocess ssh:|Temporary failure in name resolution|"
        r"i/o timeout|dial tcp",
    ),
    (
        "repo_missing",
        r"Is there a repository at the following location\?|unable to open config file|"
        r"repository does not exist|config: no such file or directory",
    ),
    (
        "snapshot_not_found",
        r"no matching ID found|no snapshot found|invalid id \"|no snapshots? (were )?found",
    ),
    (
        "path_not_found",
        r"not found in snapshot|all target directories/files do not exist|does not exist, skipping",
    ),
    ("permission_denied", r"permission denied|operation not permitted"),
    ("usage", r"unknown flag|unknown command|invalid argument|must be positive integers|Fatal: check flag"),
)
_COMPILED = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in _PATTERNS)

_SNAPSHOT_ID_RE = re.compile(r"^[0-9a-f]{8,64}$")
_SUBSET_RE = re.compile(r"^(\d+)/(\d+)$|^\d+(\.\d+)?%$|^\d+[kKmMgGtT]?$")


class ResticError(Exception):
    """A restic failure; `message` says what went wrong and what to do, `kind` is one of ERROR_KINDS."""

    def __init__(self, kind, message, rc=None, stderr="", command=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.rc = rc
        self.stderr = stderr
        self.command = command

    def to_dict(self):
        return {
            "error_kind": self.kind,
            "msg": self.message,
            "rc": self.rc,
            "stderr": self.stderr,
            "command": self.command,
        }


# ------------------------------------------------------------------------------------ small helpers
def display_repository(repository):
    """The repository location without any credentials (user:password@ in URLs)."""
    return re.sub(r"(://)[^/@\s]+:[^/@\s]+@", r"\1***@", str(repository))


def stderr_summary(stderr, limit=STDERR_KEEP_LINES):
    """The distinct non-empty stderr lines, in order, at most `limit` (restore repeats one per file)."""
    seen = []
    repeated = 0
    for line in (stderr or "").splitlines():
        line = line.rstrip()
        if not line:
            continue
        if line in seen:
            repeated += 1
            continue
        if len(seen) < limit:
            seen.append(line)
        else:
            repeated += 1
    text = "\n".join(seen)
    if repeated:
        text += f"\n({repeated} more lines, repeated or beyond the first {limit})"
    return text


def error_kind(rc, stderr):
    """The kind of a failure from restic's exit code and stderr (restic 0.14 prints rc 1 for most)."""
    if rc == 0:
        return None
    if rc == 127:
        return "not_installed"
    lines = (stderr or "").splitlines()
    for kind, pattern in _COMPILED:
        if any(pattern.search(line) for line in lines):
            return kind
    if rc == 3:
        return "incomplete"
    return "failed"


def error_message(kind, command, repository, stderr="", password_file=None, detail=None):
    """A message for the operator: what failed, where, and what to check."""
    repo = display_repository(repository) if repository else "the repository"
    first = _evidence_line(kind, stderr)
    where = f"restic {command} on {repo}"
    in_file = f" in {password_file}" if password_file else ""
    messages = {
        "data_corrupted": (
            f"data corrupted: {where} found damaged data in the repository ({first}). The damaged "
            "snapshot cannot be trusted: run `restic check --read-data`, then repair from the off-site "
            "copy (restic copy) or take a new backup"
        ),
        "no_space": (
            f"no space left: {where} could not write ({first}). Free space on the target or choose a "
            "target on a larger file system"
        ),
        "locked": (
            f"repository locked: {where} could not lock {repo} because another restic process holds a "
            f"lock ({first}). Wait for the running backup, check or prune to finish; if that process is "
            "gone, remove the stale lock with `restic unlock`"
        ),
        "host_locked": detail or "another backup, check or prune on this host holds the host lock",
        "wrong_password": (
            f"wrong password: {where}: no key in the repository matches the password{in_file}. Use the "
            "password the repository was initialized with (the backup role keeps it in an Ansible Vault "
            "variable)"
        ),
        "password_file": (
            f"password file unusable: {where} could not read a password ({first}). Check that the "
            "password file exists, is readable by root and is not empty"
        ),
        "repo_missing": (
            f"no repository at {repo} ({first}). Initialize it (`restic init`, or run the backup role in "
            "enforce mode) or correct the repository location"
        ),
        "repo_exists": f"a repository already exists at {repo}",
        "host_key": (
            f"host key of the backup server rejected: {where} ({first}). Check the known_hosts file the "
            "backup role writes; a changed key may mean the server was reinstalled or impersonated"
        ),
        "ssh_auth": (
            f"backup server refused the SSH key: {where} ({first}). Check that the host's backup key is in "
            "the backup user's authorized_keys on the backup server (run the backup role in enforce mode)"
        ),
        "unreachable": (
            f"backup server unreachable: {where} could not connect ({first}). Check that the host is up, "
            "sshd runs and the network path is open"
        ),
        "snapshot_not_found": (
            f"snapshot not found: {where} ({first}). List the snapshots with `restic snapshots`"
        ),
        "path_not_found": f"path not found: {where} ({first})",
        "permission_denied": f"permission denied: {where} ({first}). Run it as root",
        "incomplete": (
            f"incomplete backup: {where} could not read some files ({first}); the snapshot lacks them"
        ),
        "usage": f"invalid restic arguments: {where} ({first})",
        "not_installed": "restic is not installed (or not on PATH): install the restic package",
        "timeout": f"{where} did not finish in time" + (f": {detail}" if detail else ""),
        "failed": f"{where} failed ({first or 'no error output'})",
    }
    return messages.get(kind, messages["failed"])


def _evidence_line(kind, stderr):
    """The stderr line that shows the failure: the first matching the kind's pattern, else the Fatal line."""
    patterns = dict(_COMPILED)
    if kind in patterns:
        for line in (stderr or "").splitlines():
            if patterns[kind].search(line):
                return re.sub(r"^(subprocess ssh: )+|^Fatal: ", "", line.strip())
    return _first_fatal_line(stderr)


def _first_fatal_line(stderr):
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    for line in lines:
        if line.startswith("Fatal:"):
            return line[len("Fatal:") :].strip()
    for _kind, pattern in _COMPILED:
        for line in lines:
            if pattern.search(line):
                return line
    return lines[0] if lines else ""


def classify(rc, stderr, command, repository, password_file=None):
    """A ResticError for a failed command (rc != 0)."""
    kind = error_kind(rc, stderr)
    return ResticError(
        kind,
        error_message(kind, command, repository, stderr, password_file),
        rc=rc,
        stderr=stderr_summary(stderr),
        command=command,
    )


# ------------------------------------------------------------------------------------------ parsing
def json_lines(text):
    """Every JSON object of a `--json` line stream (backup prints status lines, then a summary)."""
    found = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def json_document(text):
    """The one JSON document restic printed (snapshots, forget, stats); None when there is none."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        # restic may print a notice line before the document.
        start = min([i for i in (text.find("["), text.find("{")) if i >= 0] or [0])
        try:
            return json.loads(text[start:])
        except ValueError:
            return None


def parse_time(value):
    """restic's RFC 3339 time with nanoseconds (2026-11-27T12:01:45.483588117Z) -> aware datetime."""
    if not value:
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", value.strip())
    if not match:
        return None
    base, fraction, zone = match.groups()
    micro = int(((fraction or ".0")[1:] + "000000")[:6])
    moment = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(microsecond=micro)
    if zone in (None, "Z"):
        return moment.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    return moment.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))


def backup_summary(stdout):
    """The summary of `backup --json` (snapshot_id, files_new, data_added, total_bytes_processed, ...)."""
    for item in reversed(json_lines(stdout)):
        if item.get("message_type") == "summary":
            return item
    return None


def parse_snapshots(stdout, now=None):
    """`snapshots --json` -> list of snapshots, oldest first, each with `epoch` and `age_seconds` added."""
    document = json_document(stdout)
    if document is None:
        return []
    if not isinstance(document, list):
        raise ValueError("restic snapshots --json did not print a list")
    now = now if now is not None else time.time()
    snapshots = []
    for item in document:
        if not isinstance(item, dict):
            continue
        snap = dict(item)
        moment = parse_time(snap.get("time"))
        snap["epoch"] = moment.timestamp() if moment else None
        snap["age_seconds"] = round(now - snap["epoch"], 3) if moment else None
        snap.setdefault("short_id", (snap.get("id") or "")[:8])
        snap.setdefault("tags", None)
        snapshots.append(snap)
    snapshots.sort(key=lambda s: (s["epoch"] is None, s["epoch"] or 0))
    return snapshots


def latest_snapshot(snapshots, host=None, tags=None):
    """The newest snapshot (of `host`, carrying every tag in `tags`), or None."""
    chosen = None
    for snap in snapshots:
        if host and snap.get("hostname") != host:
            continue
        if tags and not set(tags) <= set(snap.get("tags") or []):
            continue
        if snap.get("epoch") is None:
            continue
        if chosen is None or snap["epoch"] >= chosen["epoch"]:
            chosen = snap
    return chosen


def find_snapshot(snapshots, ident):
    """The snapshot whose id (or short id, or a unique id prefix) is `ident`; None if absent or ambiguous."""
    ident = (ident or "").lower()
    matches = [s for s in snapshots if (s.get("id") or "").startswith(ident) or s.get("short_id") == ident]
    return matches[0] if len(matches) == 1 else None


def copied_from(snapshots, source_id):
    """The snapshot in a copy's destination whose `original` (or own id) is the source snapshot."""
    if not source_id:
        return None
    for snap in snapshots:
        original = snap.get("original") or ""
        if original and (original.startswith(source_id) or source_id.startswith(original)):
            return snap
        if (snap.get("id") or "").startswith(source_id):
            return snap
    return None


_COPY_SAVED_RE = re.compile(r"^snapshot ([0-9a-f]{8,64}) saved")
_COPY_SOURCE_RE = re.compile(r"^snapshot ([0-9a-f]{8,64}) of \[")
_COPY_SKIP_RE = re.compile(
    r"skipping source snapshot ([0-9a-f]{8,64}), was already copied to snapshot ([0-9a-f]{8,64})"
)


def parse_copy(stdout):
    """restic copy's text output -> {"copied": [{source, copy}], "skipped": [{source, copy}]}."""
    copied, skipped = [], []
    source = None
    for line in (stdout or "").splitlines():
        line = line.strip()
        match = _COPY_SOURCE_RE.match(line)
        if match:
            source = match.group(1)
            continue
        match = _COPY_SKIP_RE.search(line)
        if match:
            skipped.append({"source": match.group(1), "copy": match.group(2)})
            source = None
            continue
        match = _COPY_SAVED_RE.match(line)
        if match:
            copied.append({"source": source, "copy": match.group(1)})
            source = None
    return {"copied": copied, "skipped": skipped}


def parse_forget(stdout):
    """`forget --json` -> {"keep": [ids], "remove": [ids]} over every group."""
    document = json_document(stdout) or []
    keep, remove = [], []
    for group in document if isinstance(document, list) else []:
        for snap in group.get("keep") or []:
            keep.append(snap.get("id"))
        for snap in group.get("remove") or []:
            remove.append(snap.get("id"))
    return {"keep": keep, "remove": remove}


_CHECK_GROUP_RE = re.compile(
    r"read group #(\d+) of (\d+) data packs \(out of total (\d+) packs in (\d+) groups\)"
)
_CHECK_READ_RE = re.compile(r"(\d+) / (\d+) packs")


def parse_check(stdout, stderr=""):
    """restic check's text output (no --json before 0.18) -> what was read and whether errors were found."""
    text = "{}\n{}".format(stdout or "", stderr or "")
    result = {"no_errors": "no errors were found" in text, "read_data": False, "packs_read": None}
    match = _CHECK_GROUP_RE.search(text)
    if match:
        result.update(
            read_data=True,
            group=int(match.group(1)),
            packs_in_group=int(match.group(2)),
            packs_total=int(match.group(3)),
            groups=int(match.group(4)),
        )
    if "read all data" in text:
        result["read_data"] = True
    reads = _CHECK_READ_RE.findall(text)
    if reads:
        result["packs_read"] = int(reads[-1][0])
    return result


def parse_ls(stdout):
    """`ls --json` -> (snapshot, nodes): the snapshot line, then one node per file/dir."""
    snapshot, nodes = None, []
    for item in json_lines(stdout):
        if item.get("struct_type") == "snapshot":
            snapshot = item
        elif item.get("struct_type") == "node":
            nodes.append(item)
    return snapshot, nodes


def parse_restore(stdout):
    """restic restore's text output -> how many files were verified (restore --json came with 0.16)."""
    match = re.search(r"finished verifying (\d+) files", stdout or "")
    return {"verified_files": int(match.group(1)) if match else None, "verified": bool(match)}


# ----------------------------------------------------------------------------------------- validation
def check_snapshot_ref(value):
    """`latest` or a hex snapshot id; ValueError otherwise (it ends up in argv)."""
    if value == "latest" or (isinstance(value, str) and _SNAPSHOT_ID_RE.match(value)):
        return value
    raise ValueError(f"snapshot must be `latest` or a snapshot id (8 to 64 hex digits), got {value!r}")


def check_subset(value):
    """A --read-data-subset value: n/t with 1 <= n <= t, x% or a size."""
    value = str(value)
    match = _SUBSET_RE.match(value)
    if not match:
        raise ValueError(f"read_data_subset must look like 3/10, 5% or 500M, got {value!r}")
    if match.group(1):
        n, t = int(match.group(1)), int(match.group(2))
        if not 1 <= n <= t:
            raise ValueError(f"read_data_subset n/t needs 1 <= n <= t, got {value!r}")
    return value


def rotating_subset(index, total):
    """The n/t subset for the index-th drill (0-based): every pack is read once per `total` drills."""
    total = int(total)
    if total < 1:
        raise ValueError("the subset count must be at least 1")
    return f"{int(index) % total + 1}/{total}"


def paths_overlap(first, second):
    """Whether two absolute paths are the same or one contains the other."""
    a = os.path.normpath(first).rstrip("/") + "/"
    b = os.path.normpath(second).rstrip("/") + "/"
    return a.startswith(b) or b.startswith(a)


def retention_args(policy):
    """--keep-* arguments from {"last": n, "daily": n, "weekly": n, "monthly": n, "yearly": n}."""
    args = []
    for key in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
        value = (policy or {}).get(key)
        if value:
            args += [f"--keep-{key}", str(int(value))]
    if (policy or {}).get("within"):
        args += ["--keep-within", str(policy["within"])]
    if not args:
        raise ValueError(
            "a retention policy needs at least one of last, hourly, daily, weekly, monthly, yearly"
        )
    return args


# ----------------------------------------------------------------------------------------- secrets
@contextlib.contextmanager
def secret_file(secret):
    """A 0400 file holding `secret` in a private 0700 directory, removed afterwards. Yields its path."""
    directory = tempfile.mkdtemp(prefix="hisguard-restic-")
    path = os.path.join(directory, "password")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret)
            if not secret.endswith("\n"):
                handle.write("\n")
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def host_lock(path, timeout=0.0, purpose="restic"):
    """The host lock (flock) shared by backup, check and prune; ResticError(host_locked) after `timeout` s."""
    if not path:
        yield None
        return
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + max(float(timeout or 0), 0.0)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    raise ResticError(
                        "host_locked",
                        f"host lock {path} is held by another backup, check or prune"
                        + (f" ({holder})" if holder else "")
                        + f"; waited {timeout or 0}s. Try again when it has finished "
                        "(systemctl status hisguard-backup.service)",
                        command=purpose,
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} {purpose} since {_utc_now()}\n".encode())
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _read_holder(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode(errors="replace").strip()
    except OSError:
        return ""


def _utc_now():
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# ------------------------------------------------------------------------------------------ running
def build_argv(
    command,
    args=(),
    restic_bin="restic",
    repository=None,
    options=None,
    json_output=False,
    no_lock=False,
    no_cache=False,
    cache_dir=None,
):
    """The argv list for one restic command (never a shell string; never a password)."""
    argv = [restic_bin, command]
    if repository:
        argv += ["--repo", str(repository)]
    for key in sorted(options or {}):
        argv += ["--option", f"{key}={options[key]}"]
    if cache_dir:
        argv += ["--cache-dir", str(cache_dir)]
    if no_cache:
        argv.append("--no-cache")
    if no_lock:
        argv.append("--no-lock")
    if json_output:
        argv.append("--json")
    argv += [str(arg) for arg in args]
    return argv


def restic_env(password_file=None, from_password_file=None, extra=None):
    """Environment additions: the password files, and every inherited RESTIC_* secret variable emptied."""
    env = dict.fromkeys(SCRUBBED_ENV, "")
    if password_file:
        env["RESTIC_PASSWORD_FILE"] = str(password_file)
    if from_password_file:
        env["RESTIC_FROM_PASSWORD_FILE"] = str(from_password_file)
    env.update(extra or {})
    return env


def subprocess_runner(timeout=None):
    """A runner for Restic built on subprocess (the host job; the module uses module.run_command)."""
    import subprocess

    def run(argv, env):
        full_env = dict(os.environ)
        for key, value in env.items():
            if value == "":
                full_env.pop(key, None)
            else:
                full_env[key] = value
        try:
            proc = subprocess.run(
                argv,
                env=full_env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            return 127, "", f"{argv[0]}: not found"
        except subprocess.TimeoutExpired as err:
            raise ResticError("timeout", f"restic {argv[1]} did not finish within {timeout}s") from err
        return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")

    return run


class Restic:
    """One repository. `runner(argv, env) -> (rc, stdout, stderr)` runs the binary."""

    def __init__(
        self,
        runner,
        repository,
        password_file,
        restic_bin="restic",
        options=None,
        cache_dir=None,
        no_cache=False,
        password_label=None,
    ):
        self.runner = runner
        self.password_label = password_label if password_label is not None else password_file
        self.repository = repository
        self.password_file = password_file
        self.restic_bin = restic_bin
        self.options = dict(options or {})
        self.cache_dir = cache_dir
        self.no_cache = no_cache
        self.last = {}

    def run(self, command, args=(), json_output=False, no_lock=False, from_password_file=None, ok_rcs=(0,)):
        argv = build_argv(
            command,
            args,
            restic_bin=self.restic_bin,
            repository=self.repository,
            options=self.options,
            json_output=json_output,
            no_lock=no_lock,
            no_cache=self.no_cache,
            cache_dir=self.cache_dir,
        )
        started = time.time()
        rc, stdout, stderr = self.runner(argv, restic_env(self.password_file, from_password_file))
        finished = time.time()
        self.last = {
            "argv": argv,
            "rc": rc,
            "started": started,
            "finished": finished,
            "duration": round(finished - started, 3),
        }
        if rc not in ok_rcs:
            raise classify(rc, stderr, command, self.repository, self.password_label)
        return rc, stdout, stderr

    # -- commands --------------------------------------------------------------------------------
    def exists(self):
        """Whether a repository answers at the location with this password (ResticError for the rest)."""
        try:
            self.run("snapshots", ["--latest", "1"], json_output=True, no_lock=True)
        except ResticError as err:
            if err.kind == "repo_missing":
                return False
            raise
        return True

    def init(self, copy_chunker_params_from=None, from_password_file=None):
        """Create the repository unless one exists; returns True when it was created."""
        if self.exists():
            return False
        args = []
        if copy_chunker_params_from:
            args = ["--from-repo", str(copy_chunker_params_from), "--copy-chunker-params"]
        try:
            self.run("init", args, from_password_file=from_password_file)
        except ResticError as err:
            if err.kind == "repo_exists":
                return False
            raise
        return True

    def backup(self, paths, tags=(), host=None, excludes=(), exclude_caches=True, one_file_system=False):
        args = []
        for tag in tags or ():
            args += ["--tag", tag]
        if host:
            args += ["--host", host]
        for pattern in excludes or ():
            args += ["--exclude", pattern]
        if exclude_caches:
            args.append("--exclude-caches")
        if one_file_system:
            args.append("--one-file-system")
        args.append("--")
        args += list(paths)
        rc, stdout, stderr = self.run("backup", args, json_output=True, ok_rcs=(0, 3))
        summary = backup_summary(stdout)
        if summary is None:
            raise ResticError(
                "failed",
                "restic backup on {} printed no summary: no snapshot was saved ({})".format(
                    display_repository(self.repository), _first_fatal_line(stderr) or "no error output"
                ),
                rc=rc,
                stderr=stderr_summary(stderr),
                command="backup",
            )
        if rc == 3:
            summary["incomplete"] = True
            summary["warnings"] = stderr_summary(stderr)
        return summary

    def snapshots(self, host=None, tags=(), no_lock=True):
        args = []
        if host:
            args += ["--host", host]
        for tag in tags or ():
            args += ["--tag", tag]
        _, stdout, _ = self.run("snapshots", args, json_output=True, no_lock=no_lock)
        return parse_snapshots(stdout)

    def forget(self, policy, host=None, tags=(), prune=False):
        args = retention_args(policy)
        if host:
            args += ["--host", host]
        for tag in tags or ():
            args += ["--tag", tag]
        if prune:
            args.append("--prune")
        _, stdout, _ = self.run("forget", args, json_output=True)
        return parse_forget(stdout)

    def prune(self):
        _, stdout, _ = self.run("prune")
        return {"output": stdout_tail(stdout)}

    def copy(self, from_repository, from_password_file, snapshot_ids=(), host=None):
        args = ["--from-repo", str(from_repository)]
        if host and not snapshot_ids:
            args += ["--host", host]
        args += list(snapshot_ids or ())
        _, stdout, _ = self.run("copy", args, from_password_file=from_password_file)
        return parse_copy(stdout)

    def check(self, read_data=False, read_data_subset=None):
        args = []
        if read_data_subset:
            args.append(f"--read-data-subset={check_subset(read_data_subset)}")
        elif read_data:
            args.append("--read-data")
        rc, stdout, stderr = self.run("check", args)
        result = parse_check(stdout, stderr)
        if not result["no_errors"]:
            raise ResticError(
                "data_corrupted",
                error_message("data_corrupted", "check", self.repository, stderr or stdout),
                rc=rc,
                stderr=stderr_summary(stderr),
                command="check",
            )
        return result

    def restore(self, snapshot, target, includes=(), verify=True, host=None):
        args = [check_snapshot_ref(snapshot), "--target", str(target)]
        for pattern in includes or ():
            args += ["--include", pattern]
        if host and snapshot == "latest":
            args += ["--host", host]
        if verify:
            args.append("--verify")
        _, stdout, _ = self.run("restore", args)
        return parse_restore(stdout)

    def ls(self, snapshot, paths=()):
        args = [check_snapshot_ref(snapshot), *list(paths or ())]
        _, stdout, _ = self.run("ls", args, json_output=True, no_lock=True)
        return parse_ls(stdout)

    def stats(self, snapshot="latest", mode="restore-size"):
        args = [check_snapshot_ref(snapshot), "--mode", mode]
        _, stdout, _ = self.run("stats", args, json_output=True, no_lock=True)
        return json_document(stdout) or {}

    def unlock(self):
        self.run("unlock")
        return True


def stdout_tail(stdout, lines=15):
    kept = [line for line in (stdout or "").splitlines() if line.strip() and not line.startswith("[")]
    return "\n".join(kept[-lines:])


# ------------------------------------------------------------------------------------------ manifest
def file_digest(path, chunk=1024 * 1024):
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def build_manifest(paths, skip=()):
    """sha256, size and mtime of every regular file under `paths` (absolute), recorded at backup time."""
    files = {}
    skip = tuple(os.path.normpath(p) for p in skip)
    for root_path in paths:
        for directory, dirnames, filenames in os.walk(root_path):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(directory, name)
                if os.path.normpath(full) in skip:
                    continue
                try:
                    info = os.lstat(full)
                    if not os.path.isfile(full) or os.path.islink(full):
                        continue
                    files[full] = {
                        "sha256": file_digest(full),
                        "size": info.st_size,
                        "mtime": int(info.st_mtime),
                    }
                except OSError:
                    continue  # vanished or unreadable: restic reports unreadable files itself
    return {
        "schema": "hisguard.backup-manifest/1",
        "created": _utc_now(),
        "paths": list(paths),
        "files": files,
    }


def compare_manifest(manifest, restored_root):
    """Compare the restored tree under `restored_root` with a manifest recorded at backup time.

    A file whose restored mtime differs from the manifest changed between the manifest and the
    snapshot (it was being written): reported as `changed`, not as damage. Same mtime, other
    content: `mismatched` (damage). Absent from the restore: `missing`.
    """
    matched, mismatched, missing, changed = 0, [], [], []
    for path, expected in sorted((manifest.get("files") or {}).items()):
        restored = os.path.join(restored_root, path.lstrip("/"))
        try:
            info = os.lstat(restored)
        except OSError:
            missing.append(path)
            continue
        if int(info.st_mtime) != int(expected.get("mtime", -1)) or info.st_size != expected.get("size"):
            changed.append(path)
            continue
        if file_digest(restored) != expected.get("sha256"):
            mismatched.append(path)
            continue
        matched += 1
    return {
        "files": len(manifest.get("files") or {}),
        "matched": matched,
        "mismatched": mismatched,
        "missing": missing,
        "changed_during_backup": changed,
        "ok": not mismatched and not missing,
    }
