"""Emergency-plan drills on the lab (应急预案演练, P3.9.2 / P4.9.2).

run_drill(scenario) checks the lab is in its normal state, opens a drill incident (class 1), injects
the fault, then runs the recovery procedure as the on-call person would, timing every step:

    diagnose -> the recovery step the diagnosis suggests -> diagnose again to verify -> resolve

and finally puts the lab back (always, also when a step fails) and writes the drill report. The
scenarios:

    his-db-down          PostgreSQL stopped on the HIS database server -> restart the service
    core-uplink-down     the core switch's primary fibre uplink down -> fail over to the backup fibre
    access-switch-dead   the access switch dead -> load its last backup onto the spare switch

Faults are injected only through the lab's own means (podman containers named in the lab topology,
the lab's emulated switch processes); a drill never touches an inventory other than the lab's.
LabTarget says where the lab is (the shared one by default; tests build a private one).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hisguard import incident as model
from hisguard import incident_timeline as tl
from hisguard import notify, paths, recovery
from hisguard.errors import UserError
from hisguard.lab import podman, switches, topology
from hisguard.store import Store

SCENARIOS = ("core-uplink-down", "his-db-down", "access-switch-dead")
Log = Callable[[str], None]


@dataclass
class LabTarget:
    """Where the drill acts: the lab's inventory, its containers and its switch processes."""

    inventory: Path | None = None  # None: the lab's (inventories/lab)
    switch_state_dir: Path = field(default_factory=lambda: paths.var_dir() / "lab")
    containers: dict[str, str] = field(default_factory=lambda: {h.name: h.container for h in topology.HOSTS})
    his_db_host: str = "srv-his"
    core_switch: str = "core-sw-01"
    access_switch: str = "access-sw-01"
    spare_switch: str = "spare-sw-01"
    netconfig_dir: Path = field(default_factory=lambda: paths.var_dir() / "netconfig")

    def container(self, host: str) -> str:
        if host not in self.containers:
            raise UserError(f"{host} is not a container of the lab; a drill only injects faults into the lab")
        return self.containers[host]


@dataclass
class DrillStep:
    name: str
    seconds: float
    ok: bool
    message: str = ""
    started: str = ""


@dataclass
class DrillResult:
    scenario: str
    incident_id: str | None
    steps: list[DrillStep]
    time_to_recovery: float | None
    total_seconds: float
    recovered: bool
    putback_ok: bool
    reports: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.recovered and self.putback_ok


# ------------------------------------------------------------------------------------------ switches
def _netmiko_device():
    path = paths.ROOT / "plugins" / "module_utils" / "netmiko_device.py"
    spec = importlib.util.spec_from_file_location("hisguard_drill_netmiko_device", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _session(target: LabTarget, name: str):
    nd = _netmiko_device()
    hostvars = switches.inventory_hosts(target.switch_state_dir)[name]
    creds = switches.read_credentials(switches.credentials_file(target.switch_state_dir))
    return (
        nd,
        nd.SwitchSession(
            hostvars["ansible_host"],
            hostvars["ansible_port"],
            creds["username"],
            creds["password"],
            creds["enable_secret"],
            20,
            str(switches.known_hosts_file(target.switch_state_dir)),
        ),
        hostvars,
    )


def switch_uplinks(target: LabTarget, name: str) -> dict[str, Any]:
    nd, session, hv = _session(target, name)
    try:
        with session:
            running = nd.parse_running_config(session.show("show running-config"))
    except nd.SwitchError as err:
        raise UserError(f"switch {name}: {err.message}") from None
    return {
        "uplinks": nd.uplink_state(
            running["interfaces"], hv["hisguard_switch_primary_uplink"], hv["hisguard_switch_backup_uplink"]
        ),
        "interfaces": running["interfaces"],
    }


def configure_switch(target: LabTarget, name: str, lines: list[str], save: bool) -> None:
    nd, session, _ = _session(target, name)
    try:
        with session:
            session.configure(lines)
            if save:
                session.save()
    except nd.SwitchError as err:
        raise UserError(f"switch {name}: {err.message}") from None


def stop_switch(target: LabTarget, name: str) -> None:
    """Stop one lab switch's process (checked against its pidfile and command line by the lab)."""
    running = switches._running(target.switch_state_dir.resolve(), name)
    if running:
        switches._stop(running[0])
    switches.pid_file(target.switch_state_dir.resolve(), name).unlink(missing_ok=True)


def switch_up(target: LabTarget) -> list[str]:
    return switches.up(target.switch_state_dir)


# ------------------------------------------------------------------------------------------- hosts
def _exec(target: LabTarget, host: str, *argv: str, check: bool = True):
    proc = podman.run("exec", target.container(host), *argv, check=False)
    if check and proc.returncode != 0:
        raise UserError(f"{host}: `{' '.join(argv)}` failed: {podman.last_line(proc.stderr or proc.stdout)}")
    return proc


def db_answers(target: LabTarget) -> bool:
    proc = _exec(
        target,
        target.his_db_host,
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-X",
        "-A",
        "-t",
        "-d",
        "his",
        "-c",
        "SELECT count(*) FROM price_catalogue",
        check=False,
    )
    return proc.returncode == 0 and proc.stdout.strip().isdigit() and int(proc.stdout.strip()) > 0


def _wait(predicate: Callable[[], bool], timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# ----------------------------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class Scenario:
    key: str
    title: dict[str, str]
    symptoms: tuple[str, ...]
    expected_cause: str


SCENARIO_INFO = {
    "his-db-down": Scenario(
        "his-db-down",
        {"zh": "演练：HIS 数据库服务停止", "en": "Drill: the HIS database service stopped"},
        ("server-down",),
        "his-db-down",
    ),
    "core-uplink-down": Scenario(
        "core-uplink-down",
        {
            "zh": "演练：核心交换机主光纤上联中断",
            "en": "Drill: the core switch's primary fibre uplink is down",
        },
        ("fiber-cut",),
        "uplink-down",
    ),
    "access-switch-dead": Scenario(
        "access-switch-dead",
        {"zh": "演练：接入交换机故障", "en": "Drill: the access switch is dead"},
        ("local-network-outage",),
        "switch-dead",
    ),
}


class _Drill:
    def __init__(self, scenario: str, target: LabTarget, store: Store, log: Log, on_event, settings):
        self.scenario = SCENARIO_INFO[scenario]
        self.target = target
        self.store = store
        self.log = log
        self.on_event = on_event
        self.settings = settings
        self.steps: list[DrillStep] = []
        self.incident_id: str | None = None
        self.saved_startup: dict[str, bytes | None] = {}
        self.injected_at: float | None = None
        self.recovered_at: float | None = None

    # -- timeline
    def record(self, action: str, detail: dict[str, Any]) -> None:
        if self.incident_id:
            tl.record(self.store, self.incident_id, action, detail, "hisguard-drill")

    def timed(self, name: str, func: Callable[[], Any]) -> Any:
        started = datetime.now(UTC)
        clock = time.monotonic()
        self.log(f"[drill] {name} ...")
        try:
            value = func()
        except UserError as err:
            step = DrillStep(name, time.monotonic() - clock, False, err.message, started.isoformat())
            self.steps.append(step)
            self.record("drill.step", asdict(step))
            self.log(f"[drill] {name}: FAILED after {step.seconds:.1f} s: {err.message}")
            raise
        ok, message = (value.ok, value.message) if isinstance(value, recovery.StepResult) else (True, "")
        step = DrillStep(name, time.monotonic() - clock, ok, message, started.isoformat())
        self.steps.append(step)
        self.record("drill.step", asdict(step))
        self.log(f"[drill] {name}: {'ok' if ok else 'FAILED'} in {step.seconds:.1f} s {message}".rstrip())
        return value

    def snapshot(self, moment: str) -> None:
        """What `incident status` tells the on-call person at this moment (kept in the timeline)."""
        loaded = tl.load(self.store, self.incident_id)
        a = model.assess(
            loaded.incident, datetime.now(UTC), self.settings.tz, self.settings.agency_departments
        )
        self.record(
            "drill.status",
            {
                "moment": moment,
                "next_steps": [s.command or s.text["en"] for s in a.steps][:4],
                "tell_now": [o.role for o in a.tell_now],
                "next_deadline": a.next_deadline.deadline.key if a.next_deadline else None,
            },
        )

    def run_step(self, step: str, args: dict[str, Any]) -> recovery.StepResult:
        from hisguard.commands.incident import run_step

        self.record("incident.step", {"step": step, **args})
        result = run_step(step, dict(args), self.incident_id, self.target.inventory, self.on_event)
        self.record("incident.run", result.timeline_detail())
        return result

    # -- per scenario
    def precheck(self) -> None:
        t = self.target
        if self.scenario.key == "his-db-down":
            if not db_answers(t):
                raise UserError(
                    f"the lab's HIS database on {t.his_db_host} does not answer before the drill: "
                    f"`hisguard lab reset {t.his_db_host}` puts it back"
                )
        elif self.scenario.key == "core-uplink-down":
            self.remember_startup(t.core_switch)
            up = switch_uplinks(t, t.core_switch)["uplinks"]
            if up["primary"]["shutdown"] is not False or up["backup"]["shutdown"] is not True:
                raise UserError(
                    f"{t.core_switch} is not in its normal state before the drill (primary uplink up, backup "
                    f"shut down): {up}; fail it back first (`hisguard failover uplink --device "
                    f"{t.core_switch} "
                    "--back --apply`)"
                )
        else:
            status = switches.status(t.switch_state_dir)
            down = [n for n in (t.access_switch, t.spare_switch) if not status.get(n)]
            if down:
                raise UserError(
                    f"lab switch(es) {', '.join(down)} not running: `hisguard lab up` starts them"
                )
            backup = t.netconfig_dir / "configs" / f"{t.access_switch}.cfg"
            if not backup.exists():
                self.log(f"[drill] no configuration backup of {t.access_switch} yet: taking one")
                from hisguard.runner import run_playbook

                run = self.timed(
                    "prepare: back up the switch configuration",
                    lambda: run_playbook(
                        "netconfig_backup.yml", inventory=t.inventory, limit=t.access_switch
                    ),
                )
                if not backup.exists():
                    raise UserError(
                        f"the configuration backup of {t.access_switch} failed ({run.status}): see "
                        f"{run.artifacts_dir / 'stdout'}"
                    )
            for name in (t.spare_switch, t.access_switch):
                self.remember_startup(name)

    def remember_startup(self, name: str) -> None:
        """Keep the switch's saved configuration as it was before the drill, to put it back after."""
        path = switches.startup_config_file(self.target.switch_state_dir.resolve(), name)
        self.saved_startup[name] = path.read_bytes() if path.exists() else None

    def restore_startup(self) -> None:
        for name, content in self.saved_startup.items():
            path = switches.startup_config_file(self.target.switch_state_dir.resolve(), name)
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)

    def inject(self) -> None:
        t = self.target
        if self.scenario.key == "his-db-down":
            _exec(t, t.his_db_host, "systemctl", "stop", "postgresql")
            if db_answers(t):
                raise UserError("the database still answers after `systemctl stop postgresql`")
            detail = {"host": t.his_db_host, "how": "systemctl stop postgresql"}
        elif self.scenario.key == "core-uplink-down":
            primary = switch_uplinks(t, t.core_switch)["uplinks"]["primary"]["port"]
            configure_switch(t, t.core_switch, [f"interface {primary}", "shutdown"], save=False)
            detail = {"device": t.core_switch, "how": f"interface {primary} shutdown (fibre cut)"}
        else:
            stop_switch(t, t.access_switch)
            detail = {"device": t.access_switch, "how": "switch process stopped (switch dead)"}
        self.injected_at = time.monotonic()
        self.record("drill.inject", {"scenario": self.scenario.key, **detail})

    def recovery_args(self, diagnosis_step: recovery.StepResult) -> tuple[str, dict[str, Any], bool]:
        """The recovery step for the scenario, and whether the diagnosis suggested it first."""
        t = self.target
        causes = diagnosis_step.detail.get("causes") or []
        top = causes[0] if causes else {}
        suggested = top.get("key") == self.scenario.expected_cause
        if self.scenario.key == "his-db-down":
            return (
                "restart-service",
                {"host": t.his_db_host, "service": "postgresql", "apply": True},
                suggested,
            )
        if self.scenario.key == "core-uplink-down":
            return "failover-uplink", {"device": t.core_switch, "back": False, "apply": True}, suggested
        return (
            "replace-switch",
            {"failed": t.access_switch, "spare": t.spare_switch, "apply": True},
            suggested,
        )

    def verify(self) -> recovery.StepResult:
        t = self.target
        limit = {
            "his-db-down": t.his_db_host,
            "core-uplink-down": t.core_switch,
            "access-switch-dead": t.spare_switch,
        }[self.scenario.key]
        result = self.run_step("diagnose", {"limit": limit})
        serious = [c for c in (result.detail.get("causes") or []) if c.get("score", 0) >= 50]
        if self.scenario.key == "access-switch-dead" and result.ok:
            ports = switch_uplinks(t, t.spare_switch)["interfaces"]
            first = next((p for p, s in ports.items() if p.startswith("GigabitEthernet")), None)
            if first is None or ports[first].get("shutdown"):
                serious.append(
                    {"key": "spare-not-serving", "title_en": f"{t.spare_switch} ports still shut down"}
                )
        if serious:
            result.ok = False
            result.outcome = "not-recovered"
            result.message = "still failing: " + "; ".join(
                c.get("title_en", c.get("key", "")) for c in serious
            )
        else:
            result.message = "recovered: no serious finding left"
        return result

    def putback(self) -> None:
        t = self.target
        if self.scenario.key == "his-db-down":
            _exec(t, t.his_db_host, "systemctl", "start", "postgresql")
            if not _wait(lambda: db_answers(t), 60):
                raise UserError(f"the HIS database on {t.his_db_host} does not answer after the drill")
            return
        if self.scenario.key == "core-uplink-down":
            state = switch_uplinks(t, t.core_switch)["uplinks"]
            if state["primary"]["shutdown"] is not False or state["backup"]["shutdown"] is not True:
                back = recovery.failover_uplink(t.core_switch, True, True, t.inventory, self.on_event)
                self.record("drill.putback.failback", back.timeline_detail())
                state = switch_uplinks(t, t.core_switch)["uplinks"]
                if state["primary"]["shutdown"] is not False or state["backup"]["shutdown"] is not True:
                    configure_switch(
                        t,
                        t.core_switch,
                        [
                            f"interface {state['primary']['port']}",
                            "no shutdown",
                            f"interface {state['backup']['port']}",
                            "shutdown",
                        ],
                        save=True,
                    )
                    state = switch_uplinks(t, t.core_switch)["uplinks"]
            if state["primary"]["shutdown"] is not False or state["backup"]["shutdown"] is not True:
                raise UserError(f"{t.core_switch} uplinks not back to normal after the drill: {state}")
            # The failover and the failback saved the configuration: the saved file goes back to what
            # it was (the running configuration equals it again: same uplink states).
            self.restore_startup()
            return
        # access-switch-dead: the spare goes back to what it was, the access switch starts again.
        stop_switch(t, t.spare_switch)
        self.restore_startup()
        switch_up(t)
        status = switches.status(t.switch_state_dir)
        down = [n for n in (t.access_switch, t.spare_switch) if not status.get(n)]
        if down:
            raise UserError(f"lab switch(es) {', '.join(down)} did not come back after the drill")
        ports = switch_uplinks(t, t.spare_switch)["interfaces"]
        first = next((p for p, s in ports.items() if p.startswith("GigabitEthernet")), None)
        if first is not None and not ports[first].get("shutdown"):
            raise UserError(f"{t.spare_switch} is not back in its spare (ports shut down) state")


def run_drill(
    scenario: str,
    target: LabTarget | None = None,
    log: Log = print,
    on_event=None,
    settings: notify.Settings | None = None,
    langs: tuple[str, ...] = ("zh", "en"),
) -> DrillResult:
    """Inject the scenario's fault into the lab, recover, put the lab back, write the report."""
    if scenario not in SCENARIOS:
        raise UserError(f"unknown drill scenario {scenario!r}: use one of {', '.join(SCENARIOS)}")
    target = target or LabTarget()
    settings = settings or notify.load_settings()
    open_now = tl.current_id()
    if open_now:
        raise UserError(
            f"incident {open_now} is open: no drill while an incident is being handled "
            "(resolve it first: `hisguard incident resolve`)"
        )
    clock = time.monotonic()
    with Store() as store:
        drill = _Drill(scenario, target, store, log, on_event, settings)
        drill.precheck()
        info = drill.scenario
        detail = {
            "org": settings.organization,
            "class": "1",
            "summary": info.title["zh"] + " / " + info.title["en"],
            "symptoms": list(info.symptoms),
            "scope": None,
            "basis": [{"symptom": s, "class": "1", "via": None} for s in info.symptoms],
            "suggested_class": None,
            "declared": False,
            "scenario": scenario,
        }
        drill.incident_id = tl.open_incident(store, detail, drill=True, actor="hisguard-drill")
        log(f"[drill] opened drill incident {drill.incident_id}")
        recovered = False
        putback_ok = False
        problems: list[str] = []
        try:
            drill.timed("inject the fault", drill.inject)
            drill.snapshot("fault injected")
            if settings.channels:
                loaded = tl.load(store, drill.incident_id)
                a = model.assess(loaded.incident, datetime.now(UTC), settings.tz, settings.agency_departments)
                notify.notify(
                    store,
                    a,
                    settings,
                    lambda d: tl.record(store, drill.incident_id, "incident.notify", d, "hisguard"),
                )
            diag = drill.timed("diagnose", lambda: drill.run_step("diagnose", {}))
            drill.snapshot("diagnosed")
            step, args, suggested = drill.recovery_args(diag)
            drill.record(
                "drill.expectation", {"expected_cause": info.expected_cause, "diagnosis_agreed": suggested}
            )
            if not suggested:
                problems.append(
                    f"the diagnosis did not rank {info.expected_cause} first "
                    f"(top: {(diag.detail.get('causes') or [{}])[0].get('key')})"
                )
            rec = drill.timed(f"recover: {step}", lambda: drill.run_step(step, args))
            drill.snapshot("recovery step run")
            if rec.ok:
                check = drill.timed("verify: diagnose again", drill.verify)
                recovered = check.ok
                if recovered:
                    drill.recovered_at = time.monotonic()
            else:
                problems.append(f"recovery step {step} failed: {rec.message}")
        except UserError as err:
            problems.append(err.message)
        finally:
            try:
                drill.timed("put the lab back", drill.putback)
                putback_ok = True
            except UserError as err:
                problems.append(f"putting the lab back failed: {err.message}")
            drill.record("drill.putback", {"ok": putback_ok})
            resolution = "drill: recovered" if recovered else "drill: not recovered by the procedure"
            tl.record(store, drill.incident_id, "incident.resolve", {"summary": resolution}, "hisguard-drill")
            tl.close_current(drill.incident_id)
        ttr = (drill.recovered_at - drill.injected_at) if drill.recovered_at and drill.injected_at else None
        total = time.monotonic() - clock
        drill.record(
            "drill.summary",
            {
                "scenario": scenario,
                "steps": [asdict(s) for s in drill.steps],
                "time_to_recovery": round(ttr, 3) if ttr is not None else None,
                "total_seconds": round(total, 3),
                "recovered": recovered,
                "putback_ok": putback_ok,
                "problems": problems,
            },
        )
        tl.record(
            store,
            drill.incident_id,
            "incident.review",
            {
                "root_cause": f"drill scenario {scenario}: fault injected on purpose ({info.title['zh']})",
                "prevention": "; ".join(problems)
                or "the procedure recovered the service; keep drilling (P3.9.2)",
                "participants": "hisguard drill fault",
            },
            "hisguard-drill",
        )
        reports = write_reports(store, drill.incident_id, settings, langs)
    return DrillResult(
        scenario, drill.incident_id, drill.steps, ttr, total, recovered, putback_ok, reports, problems
    )


def write_reports(
    store: Store, incident_id: str, settings: notify.Settings, langs: tuple[str, ...]
) -> list[Path]:
    from hisguard.report import incident as incident_report

    loaded = tl.load(store, incident_id)
    a = model.assess(loaded.incident, datetime.now(UTC), settings.tz, settings.agency_departments)
    written = []
    for lang in langs:
        for fmt in ("html", "json"):
            path = tl.incident_dir(incident_id) / f"report.{lang}.{fmt}"
            text = incident_report.render(
                loaded, a, settings, store.incident_notifications(incident_id), fmt, lang
            )
            path.write_text(text, encoding="utf-8")
            written.append(path)
    tl.record(store, incident_id, "incident.report", {"paths": [str(p) for p in written]}, "hisguard-drill")
    return written
