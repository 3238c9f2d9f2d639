# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: restic
short_description: Run restic commands with parsed output, clear errors and no password in argv
version_added: "0.1.0"
description:
  - Runs the restic binary on the managed host with an argument list (never a shell string) and
    returns its parsed C(--json) output.
  - The repository password comes from O(password_file) (a root-only file on the host) or from
    O(password), a C(no_log) parameter the module writes to a 0400 file in a private temporary
    directory for the duration of the command. It is handed to restic as E(RESTIC_PASSWORD_FILE),
    never on the command line; inherited E(RESTIC_PASSWORD) and similar variables are emptied.
  - Failures become one message that says what went wrong and what to check, with C(error_kind)
    one of C(wrong_password), C(locked), C(host_locked), C(repo_missing), C(data_corrupted),
    C(no_space), C(unreachable), C(ssh_auth), C(host_key), C(snapshot_not_found), C(path_not_found),
    C(password_file), C(permission_denied), C(usage), C(not_installed), C(failed). restic 0.14 exits
    with 1 for most of them, so the module reads stderr.
  - O(lock_file) takes a host-wide C(flock) around the command, the same lock the backup role's daily
    job holds, so a check or prune never runs while a backup does.
  - C(init) is idempotent (an existing repository is left alone). C(backup), C(copy) with new
    snapshots, C(forget) that removes snapshots, C(prune), C(restore) and C(unlock) report a change.
options:
  command:
    description: The restic command to run.
    type: str
    required: true
    choices: [init, backup, snapshots, forget, prune, copy, check, restore, dump, ls, stats, unlock]
  repository:
    description:
      - The repository, for example C(/var/backups/hisguard/restic) or
        C(sftp:restic@srv-backup:/srv/restic/repos/srv-his).
      - For C(copy), the destination.
    type: str
    required: true
  password_file:
    description: File on the host holding the repository password (mode 0400/0600, owned by root).
    type: path
  password:
    description: The repository password. Written to a 0400 temporary file, never passed in argv.
    type: str
  sftp_command:
    description:
      - The ssh command restic starts for an C(sftp:) repository (passed as C(-o sftp.command=...)),
        for example C(ssh -i /etc/hisguard/backup/id_ed25519 -o BatchMode=yes restic@srv-backup -s sftp).
    type: str
  options:
    description: Further restic extended options (C(-o key=value)).
    type: dict
    default: {}
  restic_bin:
    description: The restic binary.
    type: str
    default: restic
  cache_dir:
    description: restic's cache directory.
    type: path
  no_cache:
    description: Run without a local cache (the audit uses it so it writes nothing).
    type: bool
    default: false
  no_lock:
    description:
      - Do not create a lock in the repository. Defaults to true for C(snapshots), C(ls), C(stats) and
        C(dump), false otherwise. C(check), C(forget), C(prune) always lock.
    type: bool
  lock_file:
    description: Host lock file (C(flock)) held around the command; shared with the daily backup job.
    type: path
  lock_timeout:
    description: Seconds to wait for O(lock_file) before failing with C(error_kind=host_locked).
    type: int
    default: 0
  paths:
    description: For C(backup), the absolute paths to save; for C(ls), paths to list.
    type: list
    elements: path
    default: []
  exclude:
    description: For C(backup), exclude patterns.
    type: list
    elements: str
    default: []
  tags:
    description: For C(backup), tags to set; for C(snapshots), C(forget), tags to filter on.
    type: list
    elements: str
    default: []
  host:
    description:
      - For C(backup), the host name recorded in the snapshot; for C(snapshots), C(forget), C(copy) and a
        C(restore) of C(latest), only that host's snapshots.
    type: str
  snapshot:
    description: For C(restore), C(dump), C(ls), C(stats), a snapshot id or C(latest).
    type: str
    default: latest
  snapshot_ids:
    description: For C(copy), only these source snapshots (default every snapshot not copied yet).
    type: list
    elements: str
    default: []
  target:
    description: For C(restore), the directory to restore into.
    type: path
  include:
    description: For C(restore), restore only paths matching these patterns.
    type: list
    elements: str
    default: []
  verify:
    description: For C(restore), read the restored files back and compare them with the repository.
    type: bool
    default: true
  protected_paths:
    description:
      - For C(restore), paths the target must not overlap (equal, inside or containing); the backed-up
        paths, so a drill can never write over live data. The module fails before running restic.
    type: list
    elements: path
    default: []
  cleanup_on_failure:
    description:
      - For C(restore), remove the target directory when the restore fails and the module created it,
        so no partial restore is left behind.
    type: bool
    default: true
  retention:
    description:
      - For C(forget), the policy, with any of C(last), C(hourly), C(daily), C(weekly), C(monthly),
        C(yearly) (counts) and C(within) (a duration such as C(30d)).
    type: dict
  prune:
    description: For C(forget), also prune unreferenced data.
    type: bool
    default: false
  from_repository:
    description:
      - For C(copy), the source repository.
      - For C(init), the repository whose chunker parameters the new one copies (so C(copy) deduplicates).
    type: str
  from_password_file:
    description: Password file of O(from_repository).
    type: path
  from_password:
    description: Password of O(from_repository), written to a 0400 temporary file.
    type: str
  read_data:
    description: For C(check), read every data pack.
    type: bool
    default: false
  read_data_subset:
    description: For C(check), read a subset of the data packs (C(n/t), C(x%) or a size).
    type: str
  dump_path:
    description: For C(dump), the file inside the snapshot.
    type: str
  dest:
    description: For C(dump), the file to write (mode 0600); the module refuses to overwrite an existing file.
    type: path
attributes:
  check_mode:
    support: partial
    details:
      - C(snapshots), C(check), C(ls), C(stats) run in check mode. C(init) reports whether it would create the
        repository. The other commands report a change without running.
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - restic 0.14 or later on the managed host
notes:
  - Shares its parsing and error handling with the backup role's daily job (plugins/module_utils/restic.py).
author:
  - hisguard developers
"""

EXAMPLES = r"""
- name: Create the host's local repository (no change when it exists)
  hisguard.infosec.restic:
    command: init
    repository: /var/backups/hisguard/restic
    password_file: /etc/hisguard/backup/restic.pass

- name: Back up /etc and the database dumps
  hisguard.infosec.restic:
    command: backup
    repository: /var/backups/hisguard/restic
    password_file: /etc/hisguard/backup/restic.pass
    paths: [/etc, /var/backups/hisguard/staging]
    tags: [hisguard]
    host: "{{ inventory_hostname }}"
    lock_file: /run/lock/hisguard-backup.lock
    lock_timeout: 600

- name: Copy new snapshots to the off-site repository
  hisguard.infosec.restic:
    command: copy
    repository: sftp:restic@srv-backup:/srv/restic/repos/{{ inventory_hostname }}
    sftp_command: ssh -i /etc/hisguard/backup/id_ed25519 -o BatchMode=yes restic@srv-backup -s sftp
    password_file: /etc/hisguard/backup/restic.pass
    from_repository: /var/backups/hisguard/restic
    from_password_file: /etc/hisguard/backup/restic.pass

- name: Read a rotating tenth of the data
  hisguard.infosec.restic:
    command: check
    repository: /var/backups/hisguard/restic
    password_file: /etc/hisguard/backup/restic.pass
    read_data_subset: 3/10
    lock_file: /run/lock/hisguard-backup.lock

- name: Restore the latest snapshot into a scratch directory
  hisguard.infosec.restic:
    command: restore
    repository: /var/backups/hisguard/restic
    password: "{{ vault_backup_password }}"
    snapshot: latest
    host: "{{ inventory_hostname }}"
    target: /var/tmp/hisguard-drill/20250101T000000Z
    protected_paths: [/etc, /var/backups/hisguard/staging]
"""

RETURN = r"""
command:
  description: The restic command run.
  returned: always
  type: str
repository:
  description: The repository, without credentials.
  returned: always
  type: str
argv:
  description: The restic command line (it never holds a password).
  returned: when restic ran
  type: list
  elements: str
started:
  description: Start of the last restic command (seconds since the epoch, on the host).
  returned: when restic ran
  type: float
finished:
  description: End of the last restic command (seconds since the epoch, on the host).
  returned: when restic ran
  type: float
duration:
  description: Seconds the last restic command took.
  returned: when restic ran
  type: float
created:
  description: For C(init), whether the repository was created.
  returned: command is init
  type: bool
summary:
  description:
    - For C(backup), restic's summary (snapshot_id, files_new, data_added, total_bytes_processed, ...).
  returned: command is backup
  type: dict
snapshots:
  description: For C(snapshots), every snapshot, oldest first, with C(epoch) and C(age_seconds) added.
  returned: command is snapshots
  type: list
  elements: dict
latest:
  description: For C(snapshots), the newest snapshot (of O(host) when given), or null.
  returned: command is snapshots
  type: dict
copied:
  description: For C(copy), the snapshots copied (C(source), C(copy) ids) and those skipped as already copied.
  returned: command is copy
  type: dict
forget:
  description: For C(forget), the ids kept and removed.
  returned: command is forget
  type: dict
check:
  description: For C(check), what was read (C(group), C(groups), C(packs_read)) and C(no_errors).
  returned: command is check
  type: dict
restore:
  description: For C(restore), C(verified) and C(verified_files), and the C(target).
  returned: command is restore
  type: dict
nodes:
  description: For C(ls), the files and directories of the snapshot.
  returned: command is ls
  type: list
  elements: dict
stats:
  description: For C(stats), total size and file count.
  returned: command is stats
  type: dict
error_kind:
  description: On failure, the kind of failure (see the description).
  returned: failure
  type: str
stderr:
  description: On failure, restic's distinct stderr lines (at most 20).
  returned: failure
  type: str
"""

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from contextlib import ExitStack  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.hisguard.infosec.plugins.module_utils.restic import (  # noqa: E402
    COMMANDS,
    READ_ONLY,
    Restic,
    ResticError,
    check_snapshot_ref,
    check_subset,
    classify,
    display_repository,
    host_lock,
    latest_snapshot,
    paths_overlap,
    restic_env,
    retention_args,
    secret_file,
)

NO_LOCK_DEFAULT = ("snapshots", "ls", "stats", "dump")
ALWAYS_LOCK = ("check", "forget", "prune", "init", "backup", "copy", "unlock")


def module_runner(module):
    def run(argv, env):
        return module.run_command(argv, environ_update=env, check_rc=False)

    return run


def validate(params):
    """Problems with the parameters, as messages (the module fails before running anything)."""
    command = params["command"]
    problems = []
    if command == "backup" and not params["paths"]:
        problems.append("command=backup needs paths")
    for path in params["paths"]:
        if not os.path.isabs(path):
            problems.append(f"paths must be absolute, got {path}")
    if command == "restore" and not params["target"]:
        problems.append("command=restore needs target")
    if command == "forget":
        try:
            retention_args(params["retention"])
        except ValueError as err:
            problems.append(f"retention: {err}")
    if command == "copy" and not params["from_repository"]:
        problems.append("command=copy needs from_repository")
    if command == "copy" and not (params["from_password_file"] or params["from_password"]):
        problems.append("command=copy needs from_password_file or from_password")
    if command == "dump" and not (params["dump_path"] and params["dest"]):
        problems.append("command=dump needs dump_path and dest")
    if command in ("restore", "dump", "ls", "stats"):
        try:
            check_snapshot_ref(params["snapshot"])
        except ValueError as err:
            problems.append(str(err))
    if params["read_data_subset"]:
        try:
            check_subset(params["read_data_subset"])
        except ValueError as err:
            problems.append(str(err))
    if command == "restore" and params["target"]:
        for protected in params["protected_paths"]:
            if paths_overlap(params["target"], protected):
                problems.append(
                    f"restore target {params['target']} overlaps the backed-up path {protected}: choose a "
                    "scratch directory outside every backed-up path"
                )
    return problems


def dump(client, params):
    """restic dump to a new 0600 file (binary output, so not through run_command)."""
    dest = params["dest"]
    if os.path.exists(dest):
        raise ResticError("failed", f"dump destination {dest} exists; the module does not overwrite files")
    argv = [client.restic_bin, "dump", "--repo", client.repository]
    for key in sorted(client.options):
        argv += ["--option", f"{key}={client.options[key]}"]
    if client.cache_dir:
        argv += ["--cache-dir", client.cache_dir]
    if client.no_cache:
        argv.append("--no-cache")
    argv += ["--no-lock", params["snapshot"], params["dump_path"]]
    env = dict(os.environ)
    for key, value in restic_env(client.password_file).items():
        if value == "":
            env.pop(key, None)
        else:
            env[key] = value
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            proc = subprocess.run(argv, env=env, stdout=handle, stderr=subprocess.PIPE, check=False)
    except OSError:
        os.unlink(dest)
        raise
    if proc.returncode != 0:
        os.unlink(dest)
        raise classify(proc.returncode, proc.stderr.decode(errors="replace"), "dump", client.repository)
    return {"dest": dest, "size": os.path.getsize(dest), "argv": argv}


def run_command(module, client, params):
    """Run the command; returns (changed, result dict)."""
    command = params["command"]
    if command == "init":
        if module.check_mode:
            return not client.exists(), {}
        created = client.init(params["from_repository"] or None, params.get("_from_password_file"))
        return created, {"created": created}
    if module.check_mode and command not in READ_ONLY:
        return True, {"msg": f"check mode: restic {command} not run"}
    if command == "backup":
        summary = client.backup(params["paths"], params["tags"], params["host"], params["exclude"])
        return True, {"summary": summary}
    if command == "snapshots":
        snapshots = client.snapshots(params["host"], params["tags"], no_lock=params["no_lock"] is not False)
        return False, {"snapshots": snapshots, "latest": latest_snapshot(snapshots, params["host"])}
    if command == "forget":
        forget = client.forget(params["retention"], params["host"], params["tags"], params["prune"])
        return bool(forget["remove"]) or params["prune"], {"forget": forget}
    if command == "prune":
        return True, {"prune": client.prune()}
    if command == "copy":
        copied = client.copy(
            params["from_repository"], params["_from_password_file"], params["snapshot_ids"], params["host"]
        )
        return bool(copied["copied"]), {"copied": copied}
    if command == "check":
        return False, {"check": client.check(params["read_data"], params["read_data_subset"])}
    if command == "restore":
        return True, {"restore": restore(client, params)}
    if command == "ls":
        snapshot, nodes = client.ls(params["snapshot"], params["paths"])
        return False, {"snapshot": snapshot, "nodes": nodes}
    if command == "stats":
        return False, {"stats": client.stats(params["snapshot"])}
    if command == "dump":
        return False, {"dump": dump(client, params)}
    if command == "unlock":
        return True, {"unlocked": client.unlock()}
    raise ResticError("usage", f"unknown command {command}")  # pragma: no cover - choices prevent it


def restore(client, params):
    target = params["target"]
    created = not os.path.exists(target)
    try:
        result = client.restore(
            params["snapshot"], target, params["include"], params["verify"], params["host"]
        )
    except ResticError as err:
        if params["cleanup_on_failure"] and created and os.path.exists(target):
            shutil.rmtree(target, ignore_errors=True)
            err.message += f"; the partial restore in {target} was removed"
        raise
    result["target"] = target
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "command": {"type": "str", "required": True, "choices": list(COMMANDS)},
            "repository": {"type": "str", "required": True},
            "password_file": {"type": "path", "no_log": False},
            "password": {"type": "str", "no_log": True},
            "sftp_command": {"type": "str"},
            "options": {"type": "dict", "default": {}},
            "restic_bin": {"type": "str", "default": "restic"},
            "cache_dir": {"type": "path"},
            "no_cache": {"type": "bool", "default": False},
            "no_lock": {"type": "bool"},
            "lock_file": {"type": "path"},
            "lock_timeout": {"type": "int", "default": 0},
            "paths": {"type": "list", "elements": "path", "default": []},
            "exclude": {"type": "list", "elements": "str", "default": []},
            "tags": {"type": "list", "elements": "str", "default": []},
            "host": {"type": "str"},
            "snapshot": {"type": "str", "default": "latest"},
            "snapshot_ids": {"type": "list", "elements": "str", "default": []},
            "target": {"type": "path"},
            "include": {"type": "list", "elements": "str", "default": []},
            "verify": {"type": "bool", "default": True},
            "protected_paths": {"type": "list", "elements": "path", "default": []},
            "cleanup_on_failure": {"type": "bool", "default": True},
            "retention": {"type": "dict"},
            "prune": {"type": "bool", "default": False},
            "from_repository": {"type": "str"},
            "from_password_file": {"type": "path", "no_log": False},
            "from_password": {"type": "str", "no_log": True},
            "read_data": {"type": "bool", "default": False},
            "read_data_subset": {"type": "str"},
            "dump_path": {"type": "str"},
            "dest": {"type": "path"},
        },
        mutually_exclusive=[("password", "password_file"), ("from_password", "from_password_file")],
        required_one_of=[("password", "password_file")],
        supports_check_mode=True,
    )
    params = dict(module.params)
    command = params["command"]
    repository = params["repository"]
    base = {"changed": False, "command": command, "repository": display_repository(repository)}
    problems = validate(params)
    if problems:
        module.fail_json(msg="; ".join(problems), error_kind="usage", **base)
    if params["no_lock"] is None:
        params["no_lock"] = command in NO_LOCK_DEFAULT
    options = dict(params["options"])
    if params["sftp_command"]:
        options["sftp.command"] = params["sftp_command"]
    for path in [params["password_file"], params["from_password_file"]]:
        if path and not os.path.isfile(path):
            module.fail_json(
                msg=f"password file {path} does not exist on the host: run the backup role in enforce "
                "mode or correct password_file",
                error_kind="password_file",
                **base,
            )

    with ExitStack() as stack:
        password_file = params["password_file"] or stack.enter_context(secret_file(params["password"]))
        from_password_file = params["from_password_file"]
        if params["from_password"]:
            from_password_file = stack.enter_context(secret_file(params["from_password"]))
        elif command == "copy" and not from_password_file:
            from_password_file = password_file
        params["_from_password_file"] = from_password_file
        client = Restic(
            module_runner(module),
            repository,
            password_file,
            restic_bin=params["restic_bin"],
            options=options,
            cache_dir=params["cache_dir"],
            no_cache=params["no_cache"],
            password_label=params["password_file"] or "",
        )
        try:
            lock = params["lock_file"] if command in (*ALWAYS_LOCK, "restore") else None
            if module.check_mode and command not in READ_ONLY:
                lock = None
            with host_lock(lock, params["lock_timeout"], purpose=f"restic {command}"):
                changed, result = run_command(module, client, params)
        except ResticError as err:
            failure = dict(base)
            failure.update(err.to_dict())
            failure.update({k: v for k, v in client.last.items()})
            module.fail_json(**failure)
    base.update(client.last)
    base.update(result)
    base["changed"] = changed
    module.exit_json(**base)


if __name__ == "__main__":
    main()
