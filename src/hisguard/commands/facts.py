"""`hisguard facts`: gather facts from every host and switch of the inventory and print a table."""

import argparse

from hisguard.progress import Progress, summary
from hisguard.runner import run_playbook

COLUMNS = ("name", "kind", "address", "os", "state", "detail")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("facts", help="gather facts from every lab host and switch and print a table")
    parser.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
    parser.add_argument("--limit", help="Ansible host pattern to limit the run to")
    parser.set_defaults(func=_facts)


def _facts(args: argparse.Namespace) -> int:
    rows: dict[str, dict] = {}
    progress = Progress()

    def on_event(event: dict) -> None:
        progress.event(event)
        res = event.get("event_data", {}).get("res", {})
        row = res.get("ansible_facts", {}).get("hisguard_facts_row") if isinstance(res, dict) else None
        if event.get("event") == "runner_on_ok" and row:
            rows[row["name"]] = row

    result = run_playbook("lab_facts.yml", inventory=args.inventory, limit=args.limit, on_event=on_event)
    print(summary(result))
    print()
    print(format_table(list(rows.values())))
    down = [r["name"] for r in rows.values() if r["state"] != "up"]
    return 0 if result.ok and not down else 1


def format_table(rows: list[dict]) -> str:
    widths = {c: max([len(c), *(len(str(r.get(c, ""))) for r in rows)]) for c in COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS)]
    for r in sorted(rows, key=lambda r: (r["kind"], r["name"])):
        lines.append("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in COLUMNS).rstrip())
    return "\n".join(lines)
