"""`hisguard register ip|assets`: the IP register (P1.4.10, P1.3.5) and the equipment register
(P2.4.1, P2.6.5)."""

from __future__ import annotations

import argparse
import sys

from hisguard import registers
from hisguard.errors import UserError
from hisguard.progress import Progress
from hisguard.report import DEFAULT_LANG, LANGS
from hisguard.runner import RunResult

DIFFERENCES = {
    "missing_in_register": "on the floor, not in the register",
    "missing_on_floor": "in the register, not found",
    "unreachable": "could not be read",
    "no_asset_id": "registered without an asset number",
    "mismatch": "differs",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "register",
        help="the IP register and the equipment register (设备台账), checked against the devices",
        description="IP register: each host's addresses and MACs against the inventory (hisguard_interfaces) "
        "and a sweep of the intranet for unknown devices. Equipment register: hardware facts and switch "
        "`show version` as CSV/JSON under var/registers, reconciled with a register file.",
    )
    actions = parser.add_subparsers(dest="register_action", metavar="REGISTER", required=True)

    ip = actions.add_parser(
        "ip", help="check hosts against the IP register and sweep the intranet for unknown devices"
    )
    ip.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
    ip.add_argument(
        "--scanner", help="inventory host that sweeps the intranet (default: the first log server)"
    )
    ip.add_argument("-q", "--quiet", action="store_true", help="no per-task progress on stderr")
    ip.set_defaults(func=_ip)

    assets = actions.add_parser(
        "assets", help="write the equipment register; reconcile it with a register file"
    )
    assets.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
    assets.add_argument("--reconcile", metavar="FILE", help="register CSV to compare with (zh or en headers)")
    assets.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help="CSV headers' language")
    assets.add_argument("-q", "--quiet", action="store_true", help="no per-task progress on stderr")
    assets.set_defaults(func=_assets)


def _store(run: RunResult) -> None:
    if not run.results_file.exists():
        return
    from hisguard.commands.report import ingest

    try:
        run_id = ingest(run.results_file, "register", run.status, mode="audit")
        print(f"results stored as run {run_id} (`hisguard report {run_id}`)")
    except UserError as err:
        print(f"warning: the results were not stored: {err.message}", file=sys.stderr)


def _ip(args: argparse.Namespace) -> int:
    result = registers.ip_register(
        inventory=args.inventory, scanner=args.scanner, on_event=None if args.quiet else Progress().event
    )
    width = max([len(r.host) for r in result.hosts] + [4])
    for host in result.hosts:
        observed = host.observed if isinstance(host.observed, list) else [host.observed]
        print(f"{host.host:<{width}}  {host.status:<5}  {'; '.join(map(str, observed))}")
    sweep = result.sweep
    if sweep is None:
        print("sweep: no result (see the run's artifacts)")
    elif sweep.status == "error":
        print(f"sweep from {sweep.host}: ERROR {sweep.observed}")
    else:
        evidence = sweep.evidence
        print(
            f"sweep from {sweep.host} of {', '.join(evidence.get('networks') or [])}: "
            f"{len(evidence.get('seen') or [])} answering, {len(result.unknown)} unknown, "
            f"{len(result.mac_mismatch)} with another MAC"
        )
        for item in result.unknown:
            owner = (
                f" (MAC registered to {item['mac_registered_to']})" if item.get("mac_registered_to") else ""
            )
            print(f"  UNKNOWN  {item['address']}  {item.get('mac') or '-'}{owner}")
        for item in result.mac_mismatch:
            registered = f"registered {item['expected']} ({item['owner']})"
            print(f"  MAC      {item['address']}  {item['mac']}, {registered}")
    _store(result.run)
    failed = [r for r in result.hosts + ([sweep] if sweep else []) if r.status in ("fail", "error")]
    return 0 if result.run.ok and not failed else 1


def _assets(args: argparse.Namespace) -> int:
    result = registers.asset_register(
        inventory=args.inventory,
        reconcile=args.reconcile,
        lang=args.lang,
        on_event=None if args.quiet else Progress().event,
    )
    print(f"register: {result.csv}")
    print(f"          {result.json}")
    print(
        f"{len(result.rows)} devices"
        + (f", unreachable: {', '.join(result.unreachable)}" if result.unreachable else "")
    )
    if not result.reconciled:
        print("not reconciled: give --reconcile FILE (a register CSV) to list the differences (账物相符)")
        return 0 if result.run.ok else 1
    print(f"reconciled with {args.reconcile}: {len(result.differences)} difference(s)")
    for diff in result.differences:
        line = f"  {diff['host']}: {DIFFERENCES.get(diff['kind'], diff['kind'])}"
        if diff["kind"] == "mismatch":
            line += f" {diff['field']}: register {diff['register']!r}, found {diff['observed']!r}"
        print(line)
    _store(result.run)
    return 0 if result.run.ok and not result.differences else 1
