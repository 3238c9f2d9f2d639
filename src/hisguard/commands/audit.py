"""`hisguard audit` and `hisguard harden`: run the controls, store the results, write the report."""

import argparse
from pathlib import Path

from hisguard.commands.report import ingest, write_report
from hisguard.errors import UserError
from hisguard.progress import Progress, summary
from hisguard.report import DEFAULT_LANG, LANGS
from hisguard.runner import run_playbook
from hisguard.store import Store
from hisguard.waivers import load_waivers


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="audit every automated control (read-only) and write the report")
    harden = sub.add_parser("harden", help="enforce every automated control, then check again")
    for parser in (audit, harden):
        parser.add_argument("-i", "--inventory", help="inventory (default: the lab's, inventories/lab)")
        parser.add_argument("--limit", help="Ansible host pattern to limit the run to")
        parser.add_argument("--tags", help="only these controls, e.g. P1.3.6,P1.3.9")
        parser.add_argument("--waivers", type=Path, help="waivers file (YAML) in addition to group_vars")
        parser.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help="report language")
        parser.add_argument(
            "--fail-on-findings", action="store_true", help="exit 1 when any control fails or errors"
        )
    harden.add_argument("--check", action="store_true", help="dry run: show what enforce would change")
    audit.set_defaults(func=_run, playbook="audit.yml", kind="audit", check=False)
    harden.set_defaults(func=_run, playbook="harden.yml", kind="enforce")


def _run(args: argparse.Namespace) -> int:
    if args.waivers is not None:
        load_waivers(args.waivers)  # a bad file stops here, before anything runs
    result = run_playbook(
        args.playbook,
        inventory=args.inventory,
        extravar_files=[args.waivers] if args.waivers else None,
        limit=args.limit,
        tags=args.tags,
        check=args.check,
        on_event=Progress().event,
    )
    print(summary(result))
    if not result.results_file.exists():
        raise UserError(
            f"the run wrote no results ({result.results_file} is missing): see {result.artifacts_dir}/stdout",
            exit_code=1,
        )
    mode = "check" if args.check else ("audit" if args.kind == "audit" else "enforce")
    run_id = ingest(result.results_file, args.kind, result.status, mode=mode)
    report = write_report(run_id, "html", args.lang)
    with Store() as store:
        run = store.get_run(run_id)
    counts = run.counts
    print(
        f"stored run {run_id}: pass={counts['pass']} fail={counts['fail']} error={counts['error']} "
        f"waived={counts['waived']} not_applicable={counts['not_applicable']}"
    )
    print(f"report: {report}")
    findings = counts["fail"] + counts["error"]
    if not result.ok:
        return 1
    return 1 if args.fail_on_findings and findings else 0
