"""`hisguard vendor-access grant|revoke|list`: time-boxed vendor remote access (P1.2.5)."""

from __future__ import annotations

import argparse
import sys

from hisguard import vendor_access
from hisguard.commands.controls import format_table
from hisguard.progress import Progress, summary


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "vendor-access",
        help="grant, revoke and list time-boxed vendor remote access (P1.2.5)",
        description="Vendor remote access is closed by default. A grant opens a personal, expiring SSH "
        "account on one host, records its sessions there and revokes itself at the expiry by a timer "
        "on the host, even with the controller gone. Every grant and revocation is kept in the store.",
    )
    actions = parser.add_subparsers(dest="vendor_access_action", metavar="ACTION", required=True)

    grant = actions.add_parser("grant", help="open a time-boxed vendor account on one host")
    grant.add_argument("--host", required=True, help="inventory host, e.g. srv-his")
    grant.add_argument("--vendor", required=True, help="the vendor (letters and digits name the account)")
    grant.add_argument("--ticket", required=True, help="the approved request (申请单号)")
    grant.add_argument("--approver", required=True, help="who approved it (信息中心负责人)")
    grant.add_argument("--duration", required=True, help="how long: 30m, 2h, 1d (at most 24h by default)")
    grant.add_argument("--from-ip", help="only from this IPv4 address (key from= and a firewall opening)")
    grant.add_argument("--key", help="the vendor's OpenSSH public key file (default: generate a key pair)")
    _common(grant)
    grant.set_defaults(func=_grant)

    revoke = actions.add_parser("revoke", help="close a grant now (ends its sessions)")
    revoke.add_argument("grant", help="grant id from `hisguard vendor-access list`")
    revoke.add_argument("--reason", default="work finished", help="why it is closed (default: work finished)")
    _common(revoke)
    revoke.set_defaults(func=_revoke)

    listing = actions.add_parser("list", help="the stored grants: active, expired, revoked, failed")
    listing.add_argument("--status", choices=["active", "expired", "revoked", "failed"], help="only these")
    listing.set_defaults(func=_list)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-task progress on stderr")


def _grant(args: argparse.Namespace) -> int:
    outcome = vendor_access.grant(
        host=args.host,
        vendor=args.vendor,
        ticket=args.ticket,
        approver=args.approver,
        duration=args.duration,
        from_ip=args.from_ip,
        key_file=args.key,
        inventory=args.inventory,
        on_event=None if args.quiet else Progress().event,
    )
    g = outcome.grant
    print(summary(outcome.run))
    if not outcome.ok:
        print(
            f"grant {g['id']} FAILED on {g['host']} (stored as failed); see var/runs/{g['runner_ident']}",
            file=sys.stderr,
        )
        return 1
    print(f"grant {g['id']}: {g['vendor_name']} on {g['host']} as {g['account']} until {g['expires']}")
    print(f"  ticket {g['ticket']}, approved by {g['approver']}; from {g['from_ip'] or 'any address'}")
    if outcome.private_key:
        print(f"  private key: {outcome.private_key} (0600; hand it to the vendor over a safe channel)")
    print(
        f"  connect: ssh -i {g['key_file'] if outcome.private_key else 'KEY'} {g['account']}@{g['address']}"
    )
    print("  sessions are recorded on the host; it revokes the grant itself at the expiry")
    print(f"  close it sooner: hisguard vendor-access revoke {g['id']}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    outcome = vendor_access.revoke(
        args.grant,
        reason=args.reason,
        inventory=args.inventory,
        on_event=None if args.quiet else Progress().event,
    )
    print(summary(outcome.run))
    g = outcome.grant
    if not outcome.ok:
        print(f"revoking grant {g['id']} on {g['host']} FAILED (stored as failed)", file=sys.stderr)
        return 1
    state = (
        "was already revoked on the host (expiry timer or an earlier revoke)"
        if outcome.already
        else "revoked"
    )
    print(f"grant {g['id']} ({g['account']} on {g['host']}) {state}")
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = vendor_access.list_grants(args.status)
    if not rows:
        print("no vendor access grants" + (f" with status {args.status}" if args.status else ""))
        return 0
    header = ["GRANT", "STATUS", "HOST", "ACCOUNT", "VENDOR", "TICKET", "APPROVER", "GRANTED", "EXPIRES"]
    keys = ("id", "status", "host", "account", "vendor_name", "ticket", "approver", "granted", "expires")
    print(format_table(header, [[str(r[k] or "") for k in keys] for r in rows]))
    return 0
