"""Rank the likely causes of a fault from the diagnosis document of playbooks/incident_diagnose.yml.

rank(document, now) -> Diagnosis: every finding becomes a Cause with a score (0-100, higher = more
likely to be what stops the service), the evidence it rests on, the chapter-4 symptom it stands for
(so the incident's class can be checked against it), and a suggested next step; the step is a
`hisguard incident run ...` command when the CLI can carry it out. Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

SCHEMA = "hisguard.incident.diagnose/1"
DISK_FULL_PCT = 95
DISK_WARN_PCT = 90
BACKUP_MAX_AGE_HOURS = 26  # a daily backup plus some slack
_DF_RE = re.compile(
    r"^(?P<dev>\S+)\s+(?P<total>\d+)\s+(?P<used>\d+)\s+(?P<avail>\d+)\s+(?P<pct>\d+)%\s+(?P<mount>/.*)$"
)
# Mount points that are bind-mounted files inside containers, not filesystems worth reporting.
_FILE_MOUNTS = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv"}


@dataclass(frozen=True)
class Cause:
    key: str
    score: int
    title_zh: str
    title_en: str
    hosts: tuple[str, ...]
    evidence: tuple[str, ...]
    suggestion_zh: str
    suggestion_en: str
    command: str | None = None
    symptom: str | None = None  # the chapter-4 symptom (hisguard.incident.SYMPTOMS key)
    article: str | None = None

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_zh

    def suggestion(self, lang: str) -> str:
        return self.suggestion_en if lang == "en" else self.suggestion_zh


@dataclass(frozen=True)
class Check:
    """One line of the per-host table: what was checked and what was seen."""

    host: str
    item: str
    ok: bool | None  # None: unknown / not applicable
    observed: str


@dataclass
class Diagnosis:
    causes: list[Cause]
    checks: list[Check]
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.causes

    def to_json(self) -> dict[str, Any]:
        return {
            "causes": [asdict(c) for c in self.causes],
            "checks": [asdict(c) for c in self.checks],
            "warnings": self.warnings,
        }


class DiagnosisError(ValueError):
    """The document is not a diagnosis document."""


def parse_df(lines: list[str]) -> list[dict[str, Any]]:
    """`df -P -k` output -> [{device, mount, used_pct, avail_kb}], without bind-mounted files and
    without repeats of the same filesystem."""
    seen: set[tuple[str, str, str]] = set()
    result = []
    for line in lines:
        match = _DF_RE.match(line.strip())
        if not match or match["mount"] in _FILE_MOUNTS:
            continue
        key = (match["total"], match["used"], match["avail"])
        if key in seen:
            continue
        seen.add(key)
        result.append(
            {
                "device": match["dev"],
                "mount": match["mount"],
                "used_pct": int(match["pct"]),
                "avail_kb": int(match["avail"]),
            }
        )
    return result


def parse_backup_status(backup: dict[str, Any] | None, now: datetime) -> tuple[str, float | None]:
    """('present'|'never'|'missing'|'unreadable', age in hours of the last good backup or None).

    The backup role's status file (/var/lib/hisguard/backup/status.json) is JSON; its last success
    is `last_success` ({time, epoch, snapshot_id, ...}); also accepted: the first of last_good,
    finished, time, snapshot_time as ISO 8601 strings; failing that, the file's mtime.
    """
    if not backup or not backup.get("present"):
        return "missing", None
    content = backup.get("content")
    moment: datetime | None = None
    if content:
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if isinstance(data, dict) and "last_success" in data and not data["last_success"]:
            return "never", None
        if isinstance(data, dict):
            for key in ("last_success", "last_good", "finished", "time", "snapshot_time"):
                value = data.get(key)
                if isinstance(
                    value, dict
                ):  # the backup role's {"time": ..., "epoch": ..., "snapshot_id": ...}
                    if isinstance(value.get("epoch"), int | float):
                        moment = datetime.fromtimestamp(value["epoch"], UTC)
                        break
                    value = value.get("time")
                if isinstance(value, str):
                    try:
                        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                    except ValueError:
                        continue
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=UTC)
                    break
    if moment is None and backup.get("mtime"):
        try:
            moment = datetime.fromtimestamp(float(backup["mtime"]), UTC)
        except (TypeError, ValueError):
            moment = None
    if moment is None:
        return "unreadable", None
    return "present", max((now - moment).total_seconds() / 3600, 0.0)


def _running(services: dict[str, Any], pattern: str) -> bool | None:
    """True when a unit matching pattern runs; False when one is enabled but none runs; None when
    no such unit is in use on the host (not installed, or installed and disabled)."""
    units = {name: s for name, s in services.items() if re.match(pattern, name)}
    if not units:
        return None
    if any(s.get("state") == "running" for s in units.values()):
        return True
    if any(s.get("status") in ("enabled", "active", "static", "generated") for s in units.values()):
        return False
    return None


def _db_counts(db: dict[str, Any]) -> dict[str, int]:
    counts = {}
    for line in db.get("stdout") or []:
        name, _, number = str(line).partition("|")
        if number.strip().isdigit():
            counts[name.strip()] = int(number)
    return counts


def rank(document: dict[str, Any], now: datetime, his_db_group: str = "his_db") -> Diagnosis:
    """The causes found in the document, most likely first, and the per-host checks."""
    if not isinstance(document, dict) or not isinstance(document.get("hosts"), dict):
        raise DiagnosisError("not a diagnosis document (no `hosts` mapping)")
    hosts: dict[str, dict[str, Any]] = document["hosts"]
    causes: list[Cause] = []
    checks: list[Check] = []
    warnings: list[dict[str, str]] = []
    linux = {n: h for n, h in hosts.items() if h.get("kind") == "linux"}
    switches = {n: h for n, h in hosts.items() if h.get("kind") == "switch"}
    spares = sorted(n for n, h in switches.items() if h.get("role") == "spare" and h.get("reachable"))

    # ------------------------------------------------------------------ switches
    for name, sw in sorted(switches.items()):
        role = sw.get("role") or "switch"
        if not sw.get("reachable"):
            checks.append(Check(name, "ssh", False, str(sw.get("error") or "unreachable")))
            if role == "spare":
                warnings.append(
                    {
                        "zh": f"备用交换机 {name} 无法连接：故障时没有可用的备用交换机（P3.8.3）",
                        "en": f"spare switch {name} is unreachable: no spare is ready for a switch fault "
                        "(P3.8.3)",
                    }
                )
                continue
            spare = spares[0] if spares else None
            command = (
                f"hisguard incident run replace-switch --failed {name} --spare {spare} --apply"
                if spare
                else None
            )
            causes.append(
                Cause(
                    "switch-dead" if role != "core" else "core-switch-dead",
                    95 if role == "core" else 90,
                    f"交换机 {name}（{role}）无法连接",
                    f"switch {name} ({role}) does not answer",
                    (name,),
                    (f"{name}: {sw.get('error') or 'unreachable'}",),
                    f"交换机出现故障时应使用备用交换机（{spare or '无可用备用交换机'}）"
                    + ("" if spare else "，联系供应商"),
                    "a failed switch is replaced by the spare "
                    f"({spare or 'none reachable: call the vendor'})",
                    command,
                    "local-network-outage",
                    "P3.8.3",
                )
            )
            continue
        checks.append(Check(name, "ssh", True, "answers"))
        uplinks = sw.get("uplinks") or {}
        primary, backup = uplinks.get("primary") or {}, uplinks.get("backup") or {}
        if primary:
            checks.append(Check(name, "uplink primary", not primary.get("shutdown"), _uplink_text(primary)))
        if backup:
            checks.append(Check(name, "uplink backup", None, _uplink_text(backup)))
        if role == "spare" or not primary:
            continue
        primary_up = primary.get("present") and primary.get("shutdown") is False
        backup_up = backup.get("present") and backup.get("shutdown") is False
        if not primary_up and not backup_up:
            causes.append(
                Cause(
                    "uplink-down",
                    85 if role == "core" else 80,
                    f"{name} 主、备上联均不通",
                    f"{name}: neither the primary nor the backup uplink is up",
                    (name,),
                    (
                        f"primary {_uplink_text(primary)}",
                        f"backup {_uplink_text(backup) if backup else 'none'}",
                    ),
                    "光纤损坏时应立即使用备用光纤恢复：切换到备用上联",
                    "a damaged fibre is replaced by the spare fibre at once: fail over to the backup uplink",
                    f"hisguard incident run failover-uplink --device {name} --apply" if backup else None,
                    "fiber-cut",
                    "P3.8.3",
                )
            )
        elif not primary_up and backup_up:
            causes.append(
                Cause(
                    "on-backup-uplink",
                    20,
                    f"{name} 正在使用备用上联",
                    f"{name} runs on its backup uplink",
                    (name,),
                    (f"primary {_uplink_text(primary)}", f"backup {_uplink_text(backup)}"),
                    "业务已走备用光纤：修复主光纤后切回主上联",
                    "service runs over the backup fibre: repair the primary, then fail back",
                    f"hisguard incident run failover-uplink --device {name} --back --apply",
                    None,
                    "P3.8.3",
                )
            )

    # ------------------------------------------------------------------ Linux hosts
    unreachable = sorted(n for n, h in linux.items() if not h.get("reachable"))
    workstations = sorted(n for n, h in linux.items() if "workstations" in (h.get("groups") or []))
    ws_down = [n for n in unreachable if n in workstations]
    for name, h in sorted(linux.items()):
        groups = h.get("groups") or []
        if not h.get("reachable"):
            checks.append(Check(name, "ssh", False, str(h.get("error") or "unreachable")))
            if his_db_group in groups:
                causes.append(
                    Cause(
                        "his-server-down",
                        95,
                        f"HIS 数据库服务器 {name} 无法连接",
                        f"HIS database server {name} does not answer",
                        (name,),
                        (f"{name}: {h.get('error') or 'unreachable'}",),
                        "检查服务器电源和控制台；不能尽快恢复时按《数据备份恢复方案》在备用服务器上恢复数据",
                        "check the server's power and console; if it cannot come back soon, restore the "
                        "database onto a standby server from backup",
                        None,
                        "server-down",
                        "P3.8.1",
                    )
                )
            elif name not in workstations:
                causes.append(
                    Cause(
                        "server-down",
                        75,
                        f"服务器 {name} 无法连接",
                        f"server {name} does not answer",
                        (name,),
                        (f"{name}: {h.get('error') or 'unreachable'}",),
                        "检查服务器电源、网络和控制台",
                        "check the server's power, network and console",
                        None,
                        "server-down",
                        "P3.7",
                    )
                )
            continue
        checks.append(Check(name, "ssh", True, "answers"))
        services = h.get("services") or {}
        if his_db_group in groups:
            _his_db(name, h, services, causes, checks)
        clamd = _running(services, r"^clamav-daemon[.]service$")
        if clamd is not None:
            checks.append(Check(name, "clamd", clamd, "running" if clamd else "enabled but not running"))
        if clamd is False:
            causes.append(
                Cause(
                    "clamd-down",
                    15,
                    f"{name} 防病毒服务 clamd 未运行",
                    f"{name}: the antivirus daemon clamd is not running",
                    (name,),
                    ("clamav-daemon.service enabled, not running",),
                    "重新启动防病毒服务（不影响业务恢复）",
                    "restart the antivirus daemon (not what stops the service)",
                    f"hisguard incident run restart-service --host {name} --service clamav-daemon",
                    None,
                    "P1.3.9",
                )
            )
        for disk in parse_df(h.get("df") or []):
            ok = disk["used_pct"] < DISK_WARN_PCT
            checks.append(Check(name, f"disk {disk['mount']}", ok, f"{disk['used_pct']}% used"))
            if disk["used_pct"] >= DISK_WARN_PCT:
                full = disk["used_pct"] >= DISK_FULL_PCT
                causes.append(
                    Cause(
                        "disk-full" if full else "disk-nearly-full",
                        (80 if his_db_group in groups else 50) if full else 25,
                        f"{name} 磁盘 {disk['mount']} 已用 {disk['used_pct']}%",
                        f"{name}: disk {disk['mount']} {disk['used_pct']}% full",
                        (name,),
                        (f"{disk['device']} {disk['mount']} {disk['used_pct']}% used",),
                        "清理或扩容磁盘（服务器工作不稳定的常见原因）",
                        "free or add disk space (a common cause of an unstable server)",
                        None,
                        "server-unstable",
                        "P3.7",
                    )
                )
        state, age = parse_backup_status(h.get("backup"), now)
        if state == "present":
            checks.append(Check(name, "last good backup", age <= BACKUP_MAX_AGE_HOURS, f"{age:.1f} h ago"))
            if age > BACKUP_MAX_AGE_HOURS:
                warnings.append(
                    {
                        "zh": f"{name} 最近一次成功备份在 {age:.0f} 小时前：恢复将丢失此后的数据",
                        "en": f"{name}: the last good backup is {age:.0f} h old; a restore loses what came "
                        "after",
                    }
                )
        elif state == "never":
            checks.append(Check(name, "last good backup", False, "none recorded"))
            warnings.append(
                {
                    "zh": f"{name} 没有成功备份的记录：不能依靠备份恢复",
                    "en": f"{name}: no successful backup is recorded; a restore cannot rely on it",
                }
            )
        elif his_db_group in groups:
            checks.append(Check(name, "last good backup", None, "unknown (no status file)"))
            warnings.append(
                {
                    "zh": f"{name} 最近一次成功备份时间未知（没有备份状态文件）：恢复前先确认备份可用",
                    "en": f"{name}: age of the last good backup unknown (no status file); check the backup "
                    "before relying on a restore",
                }
            )

    if len(ws_down) >= 2 or (workstations and len(ws_down) * 2 >= len(workstations) and ws_down):
        causes.append(
            Cause(
                "local-network-outage",
                70,
                f"{len(ws_down)} 台工作站无法连接",
                f"{len(ws_down)} workstations do not answer",
                tuple(ws_down),
                tuple(f"{n}: {linux[n].get('error') or 'unreachable'}" for n in ws_down),
                "局部网络不通：检查接入交换机和上联",
                "part of the network is down: check the access switch and its uplink",
                None,
                "local-network-outage",
                "P3.8.3",
            )
        )
    elif len(ws_down) == 1:
        causes.append(
            Cause(
                "terminal-down",
                30,
                f"工作站 {ws_down[0]} 无法连接",
                f"workstation {ws_down[0]} does not answer",
                tuple(ws_down),
                (f"{ws_down[0]}: {linux[ws_down[0]].get('error') or 'unreachable'}",),
                "单一终端故障（二类）：检查该终端的电源、网线和配置",
                "a single terminal (class 2): check its power, cable and configuration",
                None,
                "single-terminal-fault",
                "P3.8.3",
            )
        )
    causes.sort(key=lambda c: (-c.score, c.key, c.hosts))
    return Diagnosis(causes, checks, warnings)


def _uplink_text(uplink: dict[str, Any]) -> str:
    if not uplink.get("present"):
        return f"{uplink.get('port')} absent"
    return f"{uplink.get('port')} {'shutdown' if uplink.get('shutdown') else 'up'}"


def _his_db(name: str, h: dict[str, Any], services: dict[str, Any], causes: list[Cause], checks: list[Check]):
    pg = _running(services, r"^postgresql(@.+)?[.]service$")
    running_units = [
        n for n, s in services.items() if n.startswith("postgresql@") and s.get("state") == "running"
    ]
    pg_running = bool(running_units) if any(n.startswith("postgresql@") for n in services) else pg
    checks.append(
        Check(
            name,
            "postgresql",
            pg_running,
            ", ".join(running_units) or ("not running" if pg_running is False else "?"),
        )
    )
    db = h.get("db") or {}
    counts = _db_counts(db)
    answered = db.get("checked") and db.get("rc") == 0
    checks.append(
        Check(
            name,
            "database query",
            bool(answered),
            ", ".join(f"{t}={n}" for t, n in counts.items())
            if answered
            else (db.get("stderr") or "no answer")[-200:],
        )
    )
    if pg_running is False:
        causes.append(
            Cause(
                "his-db-down",
                92,
                f"{name} 的 PostgreSQL 未运行",
                f"PostgreSQL is not running on {name}",
                (name,),
                ("postgresql service stopped", f"query: {(db.get('stderr') or 'no answer').strip()[-160:]}"),
                "重新启动数据库服务；启动失败或数据损坏时按《数据备份恢复方案》恢复",
                "restart the database service; if it does not start or the data is damaged, restore "
                "from backup",
                f"hisguard incident run restart-service --host {name} --service postgresql",
                "server-down",
                "P3.7",
            )
        )
        return
    if not answered:
        causes.append(
            Cause(
                "his-db-unhealthy",
                88,
                f"{name} 的数据库不能应答查询",
                f"the database on {name} does not answer queries",
                (name,),
                (f"query rc={db.get('rc')}: {(db.get('stderr') or '').strip()[-200:]}",),
                "数据库服务在运行但查询失败：检查日志；数据丢失或损坏时按《数据备份恢复方案》恢复",
                "the service runs but queries fail: read its log; if data is lost or damaged, restore "
                "from backup",
                f"hisguard incident run restore --host {name} -e backup_restore_database=his",
                "master-data-lost",
                "P3.8.1",
            )
        )
        return
    empty = [t for t, n in counts.items() if n == 0]
    if "price_catalogue" in empty:
        causes.append(
            Cause(
                "price-catalogue-deleted",
                90,
                f"{name} 价表目录为空",
                f"the price catalogue on {name} is empty",
                (name,),
                ("price_catalogue has 0 rows",),
                "价表目录被删除（一类故障）：按《数据备份恢复方案》恢复价表",
                "the price catalogue was deleted (class 1): restore it from backup",
                f"hisguard incident run restore --host {name} -e backup_restore_database=his",
                "price-catalogue-changed",
                "P3.8.1",
            )
        )
    other_empty = [t for t in empty if t != "price_catalogue"]
    if other_empty:
        causes.append(
            Cause(
                "master-data-lost",
                89,
                f"{name} 主数据表为空：{', '.join(other_empty)}",
                f"key tables on {name} are empty: {', '.join(other_empty)}",
                (name,),
                tuple(f"{t} has 0 rows" for t in other_empty),
                "主服务器数据丢失（一类故障）：按《数据备份恢复方案》恢复",
                "master data lost (class 1): restore from backup",
                f"hisguard incident run restore --host {name} -e backup_restore_database=his",
                "master-data-lost",
                "P3.8.1",
            )
        )
