"""The `hisguard` command: parses arguments, calls library functions, prints.

Each command area lives in hisguard.commands.<area> and exposes register(subparsers);
the parser's `func` receives the parsed args and returns an exit code.
"""

import argparse
import importlib
import sys

from hisguard.errors import UserError

COMMAND_MODULES = (
    "lab",
    "facts",
    "audit",
    "controls",
    "report",
    "failover",
    "netconfig",
    "incident",
    "drill",
    "drill_fault",
    "inspect",
    "log_review",
    "register",
    "vendor_access",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hisguard",
        description="Enforce and audit the health-sector IT rules; backups, drills, failover, incidents.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"hisguard.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse prints usage and exits 2 on bad input
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"hisguard: error: {err.message}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("hisguard: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
