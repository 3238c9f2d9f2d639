"""`hisguard netconfig backup|history|show`: switch configuration backups in a git repository."""

from __future__ import annotations

import argparse
import sys

from hisguard import netconfig
from hisguard.errors import UserError
from hisguard.progress import Progress, summary


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "netconfig",
        help="back up the switches' configurations (git repository under var/netconfig)",
        description="Switch configuration backups: restorable copies (secrets kept, 0600, optionally "
        "ansible-vault encrypted) and sanitized copies, one git commit per change.",
    )
    actions = parser.add_subparsers(dest="netconfig_action", metavar="ACTION", required=True)

    backup = actions.add_parser("backup", help="back up every switch's running config (schedule nightly)")
    backup.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
    backup.add_argument("--limit", help="Ansible host pattern to limit the backup to")
    backup.add_argument("--vault-password-file", help="encrypt the restorable copies with ansible-vault")
    backup.add_argument("-q", "--quiet", action="store_true", help="no per-task progress on stderr")
    backup.add_argument("--diff", action="store_true", help="print the sanitized diff of each changed switch")
    backup.set_defaults(func=_backup)

    history = actions.add_parser("history", help="list the backup commits, newest first")
    history.add_argument("--device", help="only commits that changed this switch")
    history.add_argument("--count", type=int, default=20, help="how many commits (default: 20)")
    history.set_defaults(func=_history)

    show = actions.add_parser("show", help="print the sanitized diff of one backup commit")
    show.add_argument("commit", help="commit id from `hisguard netconfig history` (or HEAD)")
    show.add_argument("--device", help="only this switch")
    show.set_defaults(func=_show)


def _backup(args: argparse.Namespace) -> int:
    result = netconfig.backup(
        inventory=args.inventory,
        limit=args.limit,
        vault_password_file=args.vault_password_file,
        on_event=None if args.quiet else Progress().event,
    )
    print(summary(result.run))
    print()
    width = max(len(name) for name in result.devices)
    for name in sorted(result.devices):
        device = result.devices[name]
        if device.status == "failed":
            print(f"{name:<{width}}  FAILED     {device.message}")
            continue
        change = f"+{device.added} -{device.removed}" if device.status == "changed" else ""
        print(f"{name:<{width}}  {device.status:<9}  {device.lines} lines {change}".rstrip())
        if args.diff and device.status == "changed":
            for line in device.diff:
                print(f"    {line}")
    print()
    if result.commit:
        short = result.commit[:12]
        print(f"committed {short} in {result.repo} (`hisguard netconfig show {short}`)")
    else:
        print(f"no change: nothing committed in {result.repo}")
    if result.run.results_file.exists():
        from hisguard.commands.report import ingest

        try:
            run_id = ingest(result.run.results_file, "netconfig", result.run.status, mode="audit")
            print(f"results stored as run {run_id} (`hisguard report {run_id}`)")
        except UserError as err:
            print(f"warning: the results were not stored: {err.message}", file=sys.stderr)
    return 0 if result.ok else 1


def _history(args: argparse.Namespace) -> int:
    if args.count <= 0:
        raise UserError(f"--count must be a positive number (got {args.count})")
    commits = netconfig.history(args.device, args.count)
    if not commits:
        print(f"no backups yet in {netconfig.repo_dir()}" + (f" for {args.device}" if args.device else ""))
        return 0
    for commit in commits:
        devices = sorted(
            {f.split("/")[-1].removesuffix(".sha256").removesuffix(".cfg") for f in commit.files}
        )
        print(f"{commit.sha[:12]}  {commit.date}  {', '.join(devices)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    sys.stdout.write(netconfig.diff(args.commit, args.device))
    return 0
