# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Callback plugin hisguard.infosec.compliance: collect compliance results into one JSON file."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import tempfile
from pathlib import Path

from ansible.plugins.callback import CallbackBase
from ansible_collections.hisguard.infosec.plugins.module_utils import compliance

DOCUMENTATION = r"""
name: compliance
type: aggregate
short_description: Write the run's compliance results (hisguard_result) into one JSON file
version_added: "0.1.0"
description:
  - Collects the C(hisguard_result) of every task (C(hisguard.infosec.compliance_result), also inside
    loops) and, at the end of the playbook, writes one JSON file with schema C(hisguard.results/1).
  - "Where: E(HISGUARD_RESULTS_FILE) if set; else, under ansible-runner or AWX, the run's artifact
    directory (E(AWX_ISOLATED_DATA_DIR), which ansible-runner exports) as C(hisguard-results.json);
    else C(var/results/<UTC timestamp>-<pid>.json) under the current directory, and only when the
    run produced results (playbooks without checks leave nothing there)."
  - The file is written atomically (temporary file, then rename).
requirements:
  - enable in ansible.cfg (C(callbacks_enabled = hisguard.infosec.compliance))
options: {}
"""

RESULTS_SCHEMA = "hisguard.results/1"
ARTIFACT_NAME = "hisguard-results.json"


def _now():
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _plain(value):
    """Native JSON types only (ansible may hand over its own str/dict subclasses or dates)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def results_path(started, environ=None):
    """Where the results file goes (see DOCUMENTATION)."""
    environ = os.environ if environ is None else environ
    if environ.get("HISGUARD_RESULTS_FILE"):
        return Path(environ["HISGUARD_RESULTS_FILE"])
    if environ.get("AWX_ISOLATED_DATA_DIR"):
        return Path(environ["AWX_ISOLATED_DATA_DIR"]) / ARTIFACT_NAME
    name = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.json"
    return Path.cwd() / "var" / "results" / name


def write_atomically(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=False)
            handle.write("\n")
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "hisguard.infosec.compliance"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.started = _now()
        self.playbook = None
        self.results = []
        self.hosts = set()
        self.written_to = None

    # ------------------------------------------------------------------ collection

    def v2_playbook_on_start(self, playbook):
        self.started = _now()
        self.playbook = getattr(playbook, "_file_name", None)
        # Parsed once here, in the main process: every worker forked for a result inherits it.
        # A broken catalog is reported by each compliance_result task itself.
        with contextlib.suppress(compliance.ComplianceError):
            compliance.catalog_ids(compliance.catalog_path())

    def _collect(self, result):
        data = getattr(result, "result", None)
        if data is None:
            data = result._result
        items = [data]
        if isinstance(data.get("results"), list):
            items.extend(item for item in data["results"] if isinstance(item, dict))
        for item in items:
            record = item.get("hisguard_result")
            if isinstance(record, dict):
                self.results.append(_plain(record))
                if record.get("host"):
                    self.hosts.add(str(record["host"]))

    def v2_runner_on_ok(self, result):
        self._collect(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._collect(result)

    # ------------------------------------------------------------------ output

    def v2_playbook_on_stats(self, stats):
        finished = _now()
        processed = sorted(set(stats.processed) | self.hosts)
        expired = {}
        for record in self.results:
            waiver = record.get("expired_waiver")
            if isinstance(waiver, dict):
                key = json.dumps(waiver, sort_keys=True)
                entry = expired.setdefault(key, {"waiver": waiver, "hosts": []})
                if record.get("host") not in entry["hosts"]:
                    entry["hosts"].append(record.get("host"))
        document = {
            "schema": RESULTS_SCHEMA,
            "run": {
                "playbook": self.playbook,
                "started": self.started.isoformat(),
                "finished": finished.isoformat(),
                "hosts": processed,
                "stats": {host: _plain(stats.summarize(host)) for host in sorted(stats.processed)},
            },
            "results": self.results,
            "expired_waivers": [
                {**entry["waiver"], "hosts_affected": sorted(h for h in entry["hosts"] if h)}
                for entry in expired.values()
            ],
        }
        explicit = bool(os.environ.get("HISGUARD_RESULTS_FILE") or os.environ.get("AWX_ISOLATED_DATA_DIR"))
        if not self.results and not explicit:
            # A playbook without compliance checks (lab setup, facts) leaves no file in var/results.
            self._display.vvv("hisguard: no compliance results in this run, no results file written")
            return
        path = results_path(self.started)
        try:
            write_atomically(path, document)
        except OSError as err:
            self._display.error(f"hisguard compliance callback: cannot write results to {path}: {err}")
            return
        self.written_to = path
        self._display.display(f"hisguard: {len(self.results)} compliance result(s) written to {path}")
