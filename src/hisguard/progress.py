"""Terminal progress for playbook runs: one line per task, failures per host, a summary at the end."""

import sys
import time
from typing import TextIO

from hisguard.runner import RunResult


class Progress:
    """Pass .event as run_playbook(on_event=...)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr  # resolved per call: tests and callers may swap sys.stderr
        self.task: str | None = None
        self.counts: dict[str, int] = {}
        self.started = time.monotonic()

    def _flush_task(self) -> None:
        if self.task is not None:
            summary = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
            print(
                f"  [{time.monotonic() - self.started:6.1f}s] {self.task}: {summary or 'no hosts'}",
                file=self.stream,
                flush=True,
            )
        self.task, self.counts = None, {}

    def event(self, event: dict) -> None:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        if kind == "playbook_on_play_start":
            self._flush_task()
            print(f"PLAY {data.get('play', '')}", file=self.stream, flush=True)
        elif kind == "playbook_on_task_start":
            self._flush_task()
            self.task = data.get("task", "")
        elif kind.startswith("runner_on_") or kind.startswith("runner_item_on_"):
            if kind.startswith("runner_item_on_"):
                return
            outcome = kind.removeprefix("runner_on_")
            if outcome == "start":
                return
            if outcome == "ok" and data.get("res", {}).get("changed"):
                outcome = "changed"
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            if outcome in ("failed", "unreachable") and not data.get("ignore_errors"):
                msg = str(data.get("res", {}).get("msg", "")).splitlines()[:1]
                print(
                    f"    {data.get('host')}: {outcome.upper()} {msg[0] if msg else ''}",
                    file=self.stream,
                    flush=True,
                )
        elif kind == "playbook_on_stats":
            self._flush_task()


def summary(result: RunResult) -> str:
    """Per-host recap in one table."""
    stats = result.stats
    hosts = sorted(set().union(*(stats.get(k, {}) for k in ("ok", "changed", "failures", "dark", "skipped"))))
    lines = [f"{'HOST':<14}{'OK':>5}{'CHANGED':>9}{'FAILED':>8}{'UNREACHABLE':>13}"]
    for h in hosts:
        lines.append(
            f"{h:<14}{stats.get('ok', {}).get(h, 0):>5}{stats.get('changed', {}).get(h, 0):>9}"
            f"{stats.get('failures', {}).get(h, 0):>8}{stats.get('dark', {}).get(h, 0):>13}"
        )
    lines.append(f"run {result.ident}: {result.status} (artifacts: {result.artifacts_dir})")
    return "\n".join(lines)
