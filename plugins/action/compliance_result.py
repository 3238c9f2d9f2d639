# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Action plugin hisguard.infosec.compliance_result: record one compliance result.

Runs on the controller only (no connection, no remote module). Documentation lives in
plugins/modules/compliance_result.py so that ansible-doc renders it.
"""

from __future__ import annotations

import datetime

from ansible.plugins.action import ActionBase
from ansible_collections.hisguard.infosec.plugins.module_utils import compliance

_ARGUMENT_SPEC = {
    "control": {"type": "str", "required": True},
    "passed": {"type": "bool"},
    "status": {"type": "str", "choices": list(compliance.DIRECT_STATUSES)},
    "observed": {"type": "raw"},
    "expected": {"type": "raw"},
    "remediation": {"type": "str"},
    "evidence": {"type": "dict", "default": {}},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(
            argument_spec=_ARGUMENT_SPEC,
            mutually_exclusive=[("passed", "status")],
            required_one_of=[("passed", "status")],
        )

        host = str(task_vars.get("inventory_hostname", "localhost"))
        groups = [str(group) for group in task_vars.get("group_names") or []]
        control = args["control"].strip()
        role = self._task._role.get_name() if getattr(self._task, "_role", None) else None
        record = {
            "host": host,
            "control": control,
            "observed": args.get("observed"),
            "expected": args.get("expected"),
            "remediation": args.get("remediation"),
            "evidence": args.get("evidence") or {},
            "task": self._task.get_name(),
            "role": role,
            "time": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        }
        status = compliance.compute_status(args.get("passed"), args.get("status"))

        problem = None
        waivers = []
        try:
            known = compliance.catalog_ids(compliance.catalog_path())
        except compliance.ComplianceError as err:
            known = None
            problem = str(err)
        if known is not None and control not in known:
            problem = (
                f"unknown control ID {control!r}: not in the control catalog {compliance.catalog_path()}; "
                "fix the task's `control` or add the article to controls/catalog.yml"
            )
        if known is not None:
            raw_waivers = task_vars.get("hisguard_waivers")
            if raw_waivers is not None:
                raw_waivers = self._templar.template(raw_waivers)
            try:
                waivers = compliance.validate_waivers(raw_waivers, known)
            except compliance.ComplianceError as err:
                problem = problem or f"hisguard_waivers: {err}"

        if problem:
            # Recorded as an error result (the callback keeps it) and the task fails.
            hisguard_result = compliance.build_result(
                status=compliance.ERROR, **{**record, "observed": problem}
            )
            result.update(failed=True, changed=False, msg=problem, hisguard_result=hisguard_result)
            return result

        status, waiver, expired = compliance.apply_waivers(
            status, control, host, groups, waivers, datetime.date.today()
        )
        hisguard_result = compliance.build_result(
            status=status, waiver=waiver, expired_waiver=expired, **record
        )
        msg = f"{control}: {status}"
        if waiver:
            msg += f" (waiver {waiver['ticket']}, until {waiver['expires']})"
        if expired:
            msg += f" (waiver {expired['ticket']} expired on {expired['expires']})"
        result.update(changed=False, msg=msg, hisguard_result=hisguard_result)
        return result
