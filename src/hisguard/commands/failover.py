"""`hisguard failover uplink|switch`: move a switch to its backup fiber, or replace a failed switch
by the spare (P3.8.3). Dry run unless --apply; every step is printed with its time."""

from __future__ import annotations

import argparse
import sys

from hisguard import failover
from hisguard.errors import UserError
from hisguard.progress import Progress

STATUS_MARK = {"ok": "ok", "planned": "PLAN", "skipped": "skip", "warning": "WARN", "failed": "FAIL"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "failover",
        help="fail over to the backup fiber or the spare switch (dry run unless --apply)",
        description="Network failover during a fault (P3.8.3). Without --apply: pre-check and the exact "
        "configuration lines, nothing is sent. With --apply: apply, verify on the device, save; any "
        "failure rolls the device back to the running config captured before.",
    )
    kinds = parser.add_subparsers(dest="failover_kind", metavar="KIND", required=True)

    up = kinds.add_parser(
        "uplink",
        help="move a switch from its primary fiber uplink to the backup one (备用光纤)",
        description="Shut the primary uplink down and enable the backup one (with --back: the reverse). "
        "The ports are the switch's hisguard_switch_primary_uplink / hisguard_switch_backup_uplink.",
    )
    up.add_argument("--device", required=True, help="the switch, as named in the inventory (e.g. core-sw-01)")
    up.add_argument("--back", action="store_true", help="fail back: primary uplink on, backup off")
    up.add_argument(
        "--make-before-break",
        action="store_true",
        help="enable the other port before shutting the active one (in-band management; needs STP)",
    )
    up.set_defaults(func=_uplink)

    sw = kinds.add_parser(
        "switch",
        help="load a failed switch's last backup onto the spare switch (备用交换机)",
        description="Push the failed switch's last backup (var/netconfig) to the spare, keeping the spare's "
        "hostname and management address from the inventory, verify that the spare's running config "
        "equals the backup, save.",
    )
    sw.add_argument("--failed", required=True, help="the failed switch, as named in the inventory")
    sw.add_argument("--spare", required=True, help="the spare switch, as named in the inventory")
    sw.add_argument(
        "--take-identity",
        action="store_true",
        help="the spare takes the failed switch's hostname and management address (update the inventory)",
    )
    sw.add_argument("--vault-password-file", help="password file of ansible-vault encrypted backups")
    sw.set_defaults(func=_switch)

    for p in (up, sw):
        p.add_argument("--apply", action="store_true", help="make the change (default: dry run)")
        p.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
        p.add_argument("-q", "--quiet", action="store_true", help="no per-task progress on stderr")


def _uplink(args: argparse.Namespace) -> int:
    what = "fail back to the primary uplink" if args.back else "fail over to the backup uplink"
    print(f"{args.device}: {what} ({'APPLY' if args.apply else 'dry run'})", flush=True)
    result = failover.uplink(
        args.device,
        apply=args.apply,
        back=args.back,
        inventory=args.inventory,
        on_event=_progress(args),
        make_before_break=args.make_before_break,
    )
    return _report(result)


def _switch(args: argparse.Namespace) -> int:
    print(
        f"{args.spare}: take over {args.failed}'s configuration ({'APPLY' if args.apply else 'dry run'})",
        flush=True,
    )
    result = failover.switch(
        args.failed,
        args.spare,
        apply=args.apply,
        inventory=args.inventory,
        take_identity=args.take_identity,
        vault_password_file=args.vault_password_file,
        on_event=_progress(args),
    )
    return _report(result)


def _progress(args: argparse.Namespace):
    return None if args.quiet else Progress().event


def _report(result: failover.FailoverResult) -> int:
    print(format_steps(result))
    for warning in result.warnings:
        print(f"WARNING: {warning}")
    print()
    print(outcome_line(result))
    if result.steps_file:
        print(f"steps: {result.steps_file}")
    if result.apply and result.run is not None and result.run.results_file.exists():
        _ingest(result)
    if result.outcome == "planned":
        print("DRY RUN: nothing was sent to the device. Run again with --apply to make this change.")
    return 0 if result.ok else 1


def format_steps(result: failover.FailoverResult) -> str:
    lines = []
    for step in result.steps:
        clock = str(step.get("time", ""))[11:23]  # HH:MM:SS.mmm (UTC)
        mark = STATUS_MARK.get(step.get("status"), step.get("status", ""))
        lines.append(f"  {clock}Z  {step.get('step', ''):<9} {mark:<4}  {step.get('detail', '')}")
        if step.get("step") in ("plan", "rollback") and step.get("commands"):
            lines += [f"      {command}" for command in step["commands"]]
        for extra in ("applied", "remaining", "diff"):
            if step.get(extra):
                lines.append(f"      {extra}:")
                lines += [f"        {item}" for item in step[extra][:40]]
    return "\n".join(lines)


def outcome_line(result: failover.FailoverResult) -> str:
    device_seconds = (result.details.get("seconds") or {}).get("to_verified")
    parts = [f"device verified {device_seconds:.1f} s after connecting"] if device_seconds is not None else []
    timing = " (" + "; ".join([*parts, f"whole run {result.seconds:.1f} s"]) + ")"
    text = {
        "planned": "PLANNED",
        "done": "DONE: applied, verified on the device and saved",
        "nothing_to_do": "NOTHING TO DO",
        "failed": "FAILED before any change: nothing was changed",
        "rolled_back": "FAILED and ROLLED BACK: the device is exactly as it was before",
        "rollback_failed": (
            "FAILED and the ROLLBACK DID NOT RESTORE the device: go to it and restore it by hand"
        ),
    }[result.outcome]
    run = f"; run {result.run.ident}" if result.run else ""
    return f"{text}{timing}{run}\n{result.message}"


def _ingest(result: failover.FailoverResult) -> None:
    from hisguard.commands.report import ingest

    try:
        run_id = ingest(result.run.results_file, "failover", result.run.status, mode="enforce")
    except UserError as err:  # the change is done; a store problem must not hide its outcome
        print(f"warning: the results were not stored: {err.message}", file=sys.stderr)
        return
    print(f"results stored as run {run_id} (`hisguard report {run_id}`)")
