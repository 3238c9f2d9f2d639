"""`hisguard lab up|down|status`."""

import argparse

from hisguard.lab import lab


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("lab", help="the local podman lab hospital (the embedded default)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser(
        "up", help="build the image if needed and start every lab host and switch"
    ).set_defaults(func=_up)
    actions.add_parser("down", help="remove every lab container, network and switch process").set_defaults(
        func=_down
    )
    reset = actions.add_parser("reset", help="recreate lab hosts in their seeded (non-compliant) state")
    reset.add_argument("hosts", nargs="*", metavar="HOST", help="hosts to reset (default: every host)")
    reset.set_defaults(func=_reset)
    actions.add_parser("status", help="show each lab host and switch up or down").set_defaults(func=_status)


def _up(args: argparse.Namespace) -> int:
    changed = lab.up()
    print("lab is up" + (f"; changed: {', '.join(changed)}" if changed else "; nothing changed"))
    print("inventory: inventories/lab/  (try: hisguard lab status)")
    return 0


def _reset(args: argparse.Namespace) -> int:
    print(f"reset: {', '.join(lab.reset(args.hosts))}")
    return 0


def _down(args: argparse.Namespace) -> int:
    removed = lab.down()
    print("lab is down" + ("" if removed else " (nothing was running)"))
    return 0


def _status(args: argparse.Namespace) -> int:
    rows = lab.status()
    print(f"{'HOST':<14}{'KIND':<11}{'ADDRESS':<18}{'STATE':<9}REACHABLE")
    for r in rows:
        print(f"{r.name:<14}{r.kind:<11}{r.address:<18}{r.state:<9}{'yes' if r.reachable else 'no'}")
    down = [r.name for r in rows if not r.reachable]
    print(f"{len(rows) - len(down)}/{len(rows)} up" + (f"; down: {', '.join(down)}" if down else ""))
    return 0 if not down else 1
