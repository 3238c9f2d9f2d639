"""The store: runs and their compliance results in SQLite, so reports can show history and trends.

Default path: $HISGUARD_DB, else <var>/hisguard.db. The schema is versioned: MIGRATIONS is an
ordered list of SQL scripts, migration N (1-based) brings the schema to version N, and opening a
store applies the missing ones, each in its own transaction. Add tables (drills, incidents) by
appending a migration; never edit one that has shipped.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hisguard import paths
from hisguard.errors import UserError
from hisguard.results import SEVERITY, Result, ResultSet, compliance_percent

MIGRATIONS: list[str] = [
    # 1: runs and results
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,                -- audit | enforce | facts | ...
        playbook TEXT,
        started TEXT,
        finished TEXT,
        status TEXT NOT NULL,              -- e.g. ansible-runner's successful | failed
        mode TEXT,                         -- audit | enforce (check mode etc.)
        results_file TEXT,
        hosts TEXT NOT NULL DEFAULT '[]',  -- JSON list
        stats TEXT NOT NULL DEFAULT '{}',  -- JSON: ansible per-host stats
        expired_waivers TEXT NOT NULL DEFAULT '[]',  -- JSON list
        ingested TEXT NOT NULL
    );
    CREATE TABLE results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        host TEXT NOT NULL,
        control TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error', 'waived', 'not_applicable')),
        observed TEXT,          -- JSON
        expected TEXT,          -- JSON
        remediation TEXT,
        evidence TEXT NOT NULL DEFAULT '{}',  -- JSON
        waiver TEXT,            -- JSON
        expired_waiver TEXT,    -- JSON
        task TEXT,
        role TEXT,
        time TEXT
    );
    CREATE INDEX results_by_run ON results (run_id, host, control);
    CREATE INDEX results_by_control ON results (control);
    """,
    # incidents (issue 7): the fault timeline (append-only copy of var/incidents/<id>/timeline.jsonl),
    # a summary row per incident, and which deadline reminder went out on which channel.
    """
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,               -- INC-... or DRILL-...
        org TEXT NOT NULL,                 -- hospital | agency
        class TEXT NOT NULL,               -- 1 | 2 | 3 | other
        summary TEXT NOT NULL,
        drill INTEGER NOT NULL DEFAULT 0,
        opened TEXT NOT NULL,
        resolved TEXT,
        timeline_file TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE TABLE incident_events (
        incident_id TEXT NOT NULL REFERENCES incidents(id),
        line INTEGER NOT NULL,             -- 1-based line of timeline.jsonl
        time TEXT NOT NULL,
        actor TEXT,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}', -- JSON
        digest TEXT NOT NULL,              -- sha256 of the JSONL line
        stored TEXT NOT NULL,
        PRIMARY KEY (incident_id, line)
    );
    CREATE TRIGGER incident_events_no_update BEFORE UPDATE ON incident_events
    BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END;
    CREATE TRIGGER incident_events_no_delete BEFORE DELETE ON incident_events
    BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END;
    CREATE TABLE incident_notifications (
        incident_id TEXT NOT NULL REFERENCES incidents(id),
        deadline TEXT NOT NULL,            -- e.g. paper-30min, reentry-key, review
        channel TEXT NOT NULL,             -- webhook | mail
        state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        updated TEXT NOT NULL,
        error TEXT,
        PRIMARY KEY (incident_id, deadline, channel)
    );
    """,
    # restore drills (issue 5, P3.8.5): one row per drill with its evidence record (JSON), one per
    # (drill, host) with the measured RPO and RTO, so reports show the drill history.
    """
    CREATE TABLE restore_drills (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ident TEXT NOT NULL UNIQUE,        -- the drill id (names the scratch directory and databases)
        started TEXT,
        finished TEXT,
        status TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error')),
        operator TEXT,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        runner_ident TEXT,                 -- var/runs/<ident>
        record TEXT NOT NULL DEFAULT '{}', -- JSON: the whole drill record (schema hisguard.drill/1)
        stored TEXT NOT NULL
    );
    CREATE TABLE restore_drill_hosts (
        drill_id INTEGER NOT NULL REFERENCES restore_drills(id) ON DELETE CASCADE,
        host TEXT NOT NULL,
        status TEXT NOT NULL,
        snapshot_id TEXT,
        snapshot_time TEXT,
        rpo_seconds REAL,
        rpo_target_seconds REAL,
        rto_seconds REAL,
        rto_target_seconds REAL,
        failure TEXT,
        PRIMARY KEY (drill_id, host)
    );
    """,
    # vendor remote access (issue 8, P1.2.5): every grant (also failed attempts) and every revocation.
    """
    CREATE TABLE vendor_grants (
        id TEXT PRIMARY KEY,               -- 8 hex digits; names the account v-<vendor>-<id>
        host TEXT NOT NULL,
        address TEXT,
        vendor TEXT NOT NULL,              -- as in the account name
        vendor_name TEXT,
        account TEXT NOT NULL,
        ticket TEXT NOT NULL,
        approver TEXT NOT NULL,
        granted_by TEXT,
        granted TEXT NOT NULL,
        expires TEXT NOT NULL,
        from_ip TEXT,
        key_fingerprint TEXT,
        key_file TEXT,                     -- the generated private key, or the vendor's public key file
        outcome TEXT NOT NULL CHECK (outcome IN ('granted', 'failed')),
        runner_ident TEXT                  -- var/runs/<ident>
    );
    CREATE TABLE vendor_revocations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        grant_id TEXT NOT NULL REFERENCES vendor_grants(id),
        time TEXT NOT NULL,
        reason TEXT,
        revoked_by TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('revoked', 'already_revoked', 'failed')),
        runner_ident TEXT
    );
    CREATE INDEX vendor_revocations_by_grant ON vendor_revocations (grant_id);
    """,
    # machine-room log (机房日志, issue 8: P2.4.2, P2.4.8, P2.7.3): one append-only entry per inspection with
    # its items; the weekly log reviews (P2.4.10, P2.5.2) with their findings and sign-off.
    """
    CREATE TABLE inspections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('daily', 'monthly')),
        started TEXT,
        finished TEXT,
        inspector TEXT,
        status TEXT NOT NULL CHECK (status IN ('ok', 'warning', 'alarm', 'error')),
        notes TEXT,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        runner_ident TEXT,
        stored TEXT NOT NULL
    );
    CREATE TABLE inspection_items (
        inspection_id INTEGER NOT NULL REFERENCES inspections(id),
        seq INTEGER NOT NULL,
        host TEXT NOT NULL,
        item TEXT NOT NULL,                -- ups | services | disk | backup | switch | smart | ...
        subject TEXT,                      -- the UPS, mount point, device, ...
        control TEXT,
        status TEXT NOT NULL CHECK (status IN ('ok', 'warning', 'alarm', 'not_applicable', 'error')),
        summary TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}', -- JSON
        PRIMARY KEY (inspection_id, seq)
    );
    CREATE TRIGGER inspections_no_update BEFORE UPDATE ON inspections
    BEGIN SELECT RAISE(ABORT, 'the machine-room log is append-only'); END;
    CREATE TRIGGER inspections_no_delete BEFORE DELETE ON inspections
    BEGIN SELECT RAISE(ABORT, 'the machine-room log is append-only'); END;
    CREATE TRIGGER inspection_items_no_update BEFORE UPDATE ON inspection_items
    BEGIN SELECT RAISE(ABORT, 'the machine-room log is append-only'); END;
    CREATE TRIGGER inspection_items_no_delete BEFORE DELETE ON inspection_items
    BEGIN SELECT RAISE(ABORT, 'the machine-room log is append-only'); END;
    CREATE TABLE log_reviews (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        since TEXT NOT NULL,
        until TEXT NOT NULL,
        reviewer TEXT,
        status TEXT NOT NULL CHECK (status IN ('collected', 'partial', 'error')),
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        runner_ident TEXT,
        record TEXT NOT NULL DEFAULT '{}', -- JSON: schema hisguard.log-review/1, findings per host
        report_dir TEXT,
        signed_by TEXT,
        signed TEXT,
        actions TEXT,                      -- what the reviewer did about the findings
        stored TEXT NOT NULL
    );
    CREATE TRIGGER log_reviews_signed_once BEFORE UPDATE ON log_reviews WHEN OLD.signed IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'a signed log review cannot change'); END;
    CREATE TRIGGER log_reviews_no_delete BEFORE DELETE ON log_reviews
    BEGIN SELECT RAISE(ABORT, 'log reviews are kept'); END;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

# Severity rank of a status, for aggregating several results of one (host, control) in SQL.
_RANK_SQL = "CASE status " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITY)) + " END"


def default_db_path() -> Path:
    return Path(os.environ.get("HISGUARD_DB") or paths.var_dir() / "hisguard.db")


@dataclass
class Run:
    id: int
    kind: str
    playbook: str | None
    started: str | None
    finished: str | None
    status: str
    mode: str | None
    results_file: str | None
    hosts: list[str]
    stats: dict[str, Any]
    expired_waivers: list[dict[str, Any]]
    ingested: str
    counts: Counter = field(default_factory=Counter)

    @property
    def compliance(self) -> float | None:
        """pass / (pass + fail + error) over (host, control) pairs, in percent."""
        return compliance_percent(self.counts)


@dataclass(frozen=True)
class TrendPoint:
    run_id: int
    started: str | None
    kind: str
    compliance: float | None
    counts: dict[str, int]


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Store:
    """A SQLite store at `path` (default: default_db_path()). Usable as a context manager."""

    def __init__(self, path: str | Path | None = None, create: bool = True):
        """Open (and migrate) the store; create=False: a missing file is a UserError, not a new store."""
        self.path = Path(path) if path is not None else default_db_path()
        if self.path.is_dir():
            raise UserError(f"store {self.path} is a directory; give the path of a database file")
        if not create and not self.path.exists():
            raise UserError(
                f"store {self.path} does not exist: no run has been stored yet "
                "(`hisguard audit` stores runs; `hisguard ingest FILE` stores a results file)"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions
        except (OSError, sqlite3.Error) as err:
            raise UserError(f"store {self.path} cannot be opened: {err}") from None
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as err:
            self.db.close()
            raise UserError(
                f"store {self.path} is not a usable hisguard database ({err}); "
                "move it aside (hisguard creates a new one) or set HISGUARD_DB to another file"
            ) from None
        except UserError:
            self.db.close()
            raise

    # ------------------------------------------------------------------ schema

    def schema_version(self) -> int:
        row = self.db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise UserError(
                f"store {self.path} has schema version {version}, newer than this hisguard knows "
                f"({SCHEMA_VERSION}); upgrade hisguard, or set HISGUARD_DB to another file"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            script = MIGRATIONS[number - 1]
            # executescript runs outside a transaction; BEGIN..COMMIT makes each migration atomic.
            try:
                self.db.executescript(
                    f"BEGIN;\n{script}\nDELETE FROM schema_version;\n"
                    f"INSERT INTO schema_version (version) VALUES ({number});\nCOMMIT;"
                )
            except sqlite3.Error as err:
                if self.db.in_transaction:
                    self.db.rollback()
                raise sqlite3.DatabaseError(f"migration {number} failed: {err}") from err

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Damage found while reading becomes a UserError naming the file."""
        try:
            yield
        except (sqlite3.DatabaseError, json.JSONDecodeError, KeyError, IndexError) as err:
            raise UserError(
                f"store {self.path} is damaged ({err}); restore it from a backup or move it aside"
            ) from None

    # ------------------------------------------------------------------ writing

    def save_run(
        self,
        result_set: ResultSet,
        kind: str,
        status: str,
        mode: str | None = None,
    ) -> int:
        """Store a run and all its results; returns the run's id."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        try:
            self.db.execute("BEGIN")
            cursor = self.db.execute(
                "INSERT INTO runs (kind, playbook, started, finished, status, mode, results_file,"
                " hosts, stats, expired_waivers, ingested) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    result_set.playbook,
                    result_set.started,
                    result_set.finished,
                    status,
                    mode,
                    str(result_set.path) if result_set.path else None,
                    _dump(list(result_set.hosts)),
                    _dump(result_set.stats or {}),
                    _dump(list(result_set.expired_waivers)),
                    now,
                ),
            )
            run_id = int(cursor.lastrowid)
            self.db.executemany(
                "INSERT INTO results (run_id, host, control, status, observed, expected, remediation,"
                " evidence, waiver, expired_waiver, task, role, time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        r.host,
                        r.control,
                        r.status,
                        _dump(r.observed),
                        _dump(r.expected),
                        r.remediation,
                        _dump(r.evidence or {}),
                        _dump(r.waiver),
                        _dump(r.expired_waiver),
                        r.task,
                        r.role,
                        r.time,
                    )
                    for r in result_set.results
                ],
            )
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            self.db.execute("ROLLBACK")
            raise UserError(f"store {self.path}: cannot save the run: {err}") from None
        return run_id

    # ------------------------------------------------------------------ reading

    def _counts(self, run_ids: list[int]) -> dict[int, Counter]:
        """Status counts per run over (host, control) pairs (the most severe result of a pair wins)."""
        counts: dict[int, Counter] = {run_id: Counter() for run_id in run_ids}
        if not run_ids:
            return counts
        marks = ",".join("?" * len(run_ids))
        rows = self.db.execute(
            f"SELECT run_id, rank, COUNT(*) FROM ("
            f" SELECT run_id, host, control, MIN({_RANK_SQL}) AS rank FROM results"
            f" WHERE run_id IN ({marks}) GROUP BY run_id, host, control"
            f") GROUP BY run_id, rank",
            run_ids,
        )
        for run_id, rank, number in rows:
            counts[run_id][SEVERITY[rank]] = number
        return counts

    def _run(self, row: sqlite3.Row, counts: Counter) -> Run:
        return Run(
            id=row["id"],
            kind=row["kind"],
            playbook=row["playbook"],
            started=row["started"],
            finished=row["finished"],
            status=row["status"],
            mode=row["mode"],
            results_file=row["results_file"],
            hosts=_load(row["hosts"]) or [],
            stats=_load(row["stats"]) or {},
            expired_waivers=_load(row["expired_waivers"]) or [],
            ingested=row["ingested"],
            counts=counts,
        )

    def _runs(self, limit: int | None = None, kind: str | None = None) -> list[Run]:
        """Past runs, newest first."""
        sql = "SELECT * FROM runs"
        params: list[Any] = []
        if kind:
            sql += " WHERE kind = ?"
            params.append(kind)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self.db.execute(sql, params).fetchall()
        counts = self._counts([row["id"] for row in rows])
        return [self._run(row, counts[row["id"]]) for row in rows]

    def _get_run(self, run_id: int | None = None) -> Run:
        """One run; None means the latest. UserError if there is none."""
        if run_id is None:
            row = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                raise UserError(f"store {self.path} has no runs yet; run `hisguard audit` first")
        else:
            row = self.db.execute("SELECT * FROM runs WHERE id = ?", (int(run_id),)).fetchone()
            if row is None:
                raise UserError(f"store {self.path} has no run {run_id}; `hisguard history` lists the runs")
        return self._run(row, self._counts([row["id"]])[row["id"]])

    def _results(self, run_id: int) -> list[Result]:
        rows = self.db.execute("SELECT * FROM results WHERE run_id = ? ORDER BY id", (int(run_id),))
        return [
            Result(
                host=row["host"],
                control=row["control"],
                status=row["status"],
                observed=_load(row["observed"]),
                expected=_load(row["expected"]),
                remediation=row["remediation"],
                evidence=_load(row["evidence"]) or {},
                waiver=_load(row["waiver"]),
                expired_waiver=_load(row["expired_waiver"]),
                task=row["task"],
                role=row["role"],
                time=row["time"],
            )
            for row in rows
        ]

    def _trend(self, limit: int = 20, kind: str | None = None, until: int | None = None) -> list[TrendPoint]:
        """Compliance per run for the last `limit` runs that have results, oldest first.

        kind: only runs of that kind; until: only runs up to that id (a report of an older run).
        """
        sql = "SELECT * FROM runs WHERE EXISTS (SELECT 1 FROM results WHERE results.run_id = runs.id)"
        params: list[Any] = []
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        if until is not None:
            sql += " AND id <= ?"
            params.append(int(until))
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(int(limit))
        rows = self.db.execute(sql, params).fetchall()
        counts = self._counts([row["id"] for row in rows])
        return [
            TrendPoint(
                run_id=row["id"],
                started=row["started"],
                kind=row["kind"],
                compliance=compliance_percent(counts[row["id"]]),
                counts=dict(counts[row["id"]]),
            )
            for row in reversed(rows)
        ]

    # Public readers: the same, with damage reported as UserError.

    def runs(self, limit: int | None = None, kind: str | None = None) -> list[Run]:
        """Past runs, newest first."""
        with self._reading():
            return self._runs(limit, kind)

    def get_run(self, run_id: int | None = None) -> Run:
        """One run; None means the latest. UserError if there is none."""
        with self._reading():
            return self._get_run(run_id)

    def results(self, run_id: int) -> list[Result]:
        """All results of a run, in the order they were reported."""
        with self._reading():
            return self._results(run_id)

    def trend(self, limit: int = 20, kind: str | None = None, until: int | None = None) -> list[TrendPoint]:
        """Compliance per run for the last `limit` runs with results, oldest first (see _trend)."""
        with self._reading():
            return self._trend(limit, kind, until)

    # ------------------------------------------------------------------ incidents (incident_timeline.py)

    def save_incident(self, row: dict[str, Any]) -> None:
        """Insert or refresh an incident's summary row (id, org, class, summary, drill, opened, resolved,
        timeline_file); the summary is derived from the timeline, which alone is append-only."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        try:
            self.db.execute(
                "INSERT INTO incidents"
                " (id, org, class, summary, drill, opened, resolved, timeline_file, updated)"
                " VALUES (:id, :org, :class, :summary, :drill, :opened, :resolved, :timeline_file, :updated)"
                " ON CONFLICT(id) DO UPDATE SET org = excluded.org, class = excluded.class,"
                " summary = excluded.summary, drill = excluded.drill, resolved = excluded.resolved,"
                " timeline_file = excluded.timeline_file, updated = excluded.updated",
                {**row, "drill": int(bool(row.get("drill"))), "updated": now},
            )
        except sqlite3.Error as err:
            raise UserError(f"store {self.path}: cannot save incident {row.get('id')}: {err}") from None

    def add_incident_events(self, incident_id: str, events: list[dict[str, Any]]) -> int:
        """Append timeline entries (line, time, actor, action, detail, digest); lines already stored
        are left alone. Returns how many were added."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        try:
            self.db.execute("BEGIN IMMEDIATE")
            added = 0
            for e in events:
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO incident_events"
                    " (incident_id, line, time, actor, action, detail, digest, stored)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        incident_id,
                        e["line"],
                        e["time"],
                        e["actor"],
                        e["action"],
                        _dump(e["detail"]),
                        e["digest"],
                        now,
                    ),
                )
                added += cursor.rowcount
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise UserError(f"store {self.path}: cannot store the timeline of {incident_id}: {err}") from None
        return added

    def incident_event_rows(self, incident_id: str) -> list[dict[str, Any]]:
        """The stored timeline of an incident, in line order."""
        with self._reading():
            rows = self.db.execute(
                "SELECT * FROM incident_events WHERE incident_id = ? ORDER BY line", (incident_id,)
            ).fetchall()
            return [{**dict(row), "detail": _load(row["detail"]) or {}} for row in rows]

    def incident_row(self, incident_id: str) -> dict[str, Any] | None:
        with self._reading():
            row = self.db.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            return None if row is None else dict(row)

    def incident_rows(self, limit: int | None = None, drills: bool | None = None) -> list[dict[str, Any]]:
        """Incident summaries, newest first; drills: only drills (True), only real ones (False)."""
        sql, params = "SELECT * FROM incidents", []
        if drills is not None:
            sql += " WHERE drill = ?"
            params.append(int(drills))
        sql += " ORDER BY opened DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._reading():
            return [dict(row) for row in self.db.execute(sql, params).fetchall()]

    def claim_notification(
        self, incident_id: str, deadline: str, channel: str, stale_after: int = 300
    ) -> bool:
        """Take the job of sending one reminder: True when nobody sent it yet (a failed attempt, or a
        `sending` claim older than stale_after seconds, may be retried). One sender wins across processes."""
        now = datetime.now(UTC)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute(
                "SELECT state, updated FROM incident_notifications"
                " WHERE incident_id = ? AND deadline = ? AND channel = ?",
                (incident_id, deadline, channel),
            ).fetchone()
            stale = (
                row is not None
                and (now - datetime.fromisoformat(row["updated"])).total_seconds() > stale_after
            )
            if row is not None and (row["state"] == "sent" or (row["state"] == "sending" and not stale)):
                self.db.execute("COMMIT")
                return False
            self.db.execute(
                "INSERT INTO incident_notifications"
                " (incident_id, deadline, channel, state, attempts, updated)"
                " VALUES (?, ?, ?, 'sending', 1, ?) ON CONFLICT(incident_id, deadline, channel) DO UPDATE"
                " SET state = 'sending', attempts = attempts + 1, updated = excluded.updated, error = NULL",
                (incident_id, deadline, channel, now.isoformat()),
            )
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise UserError(f"store {self.path}: cannot record a notification: {err}") from None
        return True

    def finish_notification(
        self, incident_id: str, deadline: str, channel: str, ok: bool, error: str | None = None
    ) -> None:
        now = datetime.now(UTC).isoformat()
        try:
            self.db.execute(
                "UPDATE incident_notifications SET state = ?, updated = ?, error = ?"
                " WHERE incident_id = ? AND deadline = ? AND channel = ?",
                ("sent" if ok else "failed", now, error, incident_id, deadline, channel),
            )
        except sqlite3.Error as err:
            raise UserError(f"store {self.path}: cannot record a notification: {err}") from None

    def incident_notifications(self, incident_id: str) -> list[dict[str, Any]]:
        with self._reading():
            rows = self.db.execute(
                "SELECT * FROM incident_notifications WHERE incident_id = ? ORDER BY updated", (incident_id,)
            ).fetchall()
            return [dict(row) for row in rows]

    # ------------------------------------------------------------------ restore drills (hisguard.drill)

    def save_drill(self, record: dict[str, Any], run_id: int | None = None) -> int:
        """Store a drill record (schema hisguard.drill/1) and its per-host figures; returns its id."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        try:
            self.db.execute("BEGIN")
            cursor = self.db.execute(
                "INSERT INTO restore_drills (ident, started, finished, status, operator, run_id,"
                " runner_ident, record, stored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["ident"],
                    record.get("started"),
                    record.get("finished"),
                    record["status"],
                    record.get("operator"),
                    run_id,
                    record.get("runner_ident"),
                    _dump(record),
                    now,
                ),
            )
            drill_id = int(cursor.lastrowid)
            self.db.executemany(
                "INSERT INTO restore_drill_hosts (drill_id, host, status, snapshot_id, snapshot_time,"
                " rpo_seconds, rpo_target_seconds, rto_seconds, rto_target_seconds, failure)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        drill_id,
                        h["host"],
                        h["status"],
                        (h.get("snapshot") or {}).get("id"),
                        (h.get("snapshot") or {}).get("time"),
                        (h.get("rpo") or {}).get("seconds"),
                        (h.get("rpo") or {}).get("target_seconds"),
                        (h.get("rto") or {}).get("seconds"),
                        (h.get("rto") or {}).get("target_seconds"),
                        ((h.get("failure") or {}).get("message")),
                    )
                    for h in record.get("hosts", [])
                ],
            )
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise UserError(f"store {self.path}: cannot save drill {record.get('ident')}: {err}") from None
        return drill_id

    def drills(self, limit: int | None = 20) -> list[dict[str, Any]]:
        """Stored drills, newest first: id, ident, started, finished, status, operator, run_id, hosts."""
        sql = (
            "SELECT id, ident, started, finished, status, operator, run_id FROM restore_drills"
            " ORDER BY id DESC"
        )
        params: list[Any] = []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._reading():
            rows = [dict(row) for row in self.db.execute(sql, params).fetchall()]
            for row in rows:
                row["hosts"] = [
                    dict(h)
                    for h in self.db.execute(
                        "SELECT * FROM restore_drill_hosts WHERE drill_id = ? ORDER BY host", (row["id"],)
                    ).fetchall()
                ]
            return rows

    def get_drill(self, drill: int | str | None = None) -> dict[str, Any]:
        """One drill's record (by id, drill ident, or None for the latest), with `id` and `run_id` added."""
        with self._reading():
            if drill is None:
                row = self.db.execute("SELECT * FROM restore_drills ORDER BY id DESC LIMIT 1").fetchone()
            elif isinstance(drill, int):
                row = self.db.execute("SELECT * FROM restore_drills WHERE id = ?", (drill,)).fetchone()
            else:
                row = self.db.execute("SELECT * FROM restore_drills WHERE ident = ?", (drill,)).fetchone()
            if row is None:
                raise UserError(
                    f"store {self.path} has no drill {drill}; `hisguard drill history` lists them"
                    if drill is not None
                    else f"store {self.path} has no drill yet; run `hisguard drill restore` first"
                )
            return {**(_load(row["record"]) or {}), "id": row["id"], "run_id": row["run_id"]}

    # ------------------------------------------------------------------ machine-room log (inspection)

    def save_inspection(self, entry: dict[str, Any]) -> int:
        """Append one inspection (kind, started, finished, inspector, status, notes, run_id, runner_ident,
        items [{host, item, subject, control, status, summary, detail}]) to the machine-room log."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        try:
            self.db.execute("BEGIN")
            cursor = self.db.execute(
                "INSERT INTO inspections (kind, started, finished, inspector, status, notes, run_id,"
                " runner_ident, stored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *(
                        entry.get(key)
                        for key in ("kind", "started", "finished", "inspector", "status", "notes", "run_id")
                    ),
                    entry.get("runner_ident"),
                    now,
                ),
            )
            inspection_id = int(cursor.lastrowid)
            self.db.executemany(
                "INSERT INTO inspection_items (inspection_id, seq, host, item, subject, control, status,"
                " summary, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        inspection_id,
                        seq,
                        i["host"],
                        i["item"],
                        i.get("subject"),
                        i.get("control"),
                        i["status"],
                        i["summary"],
                        _dump(i.get("detail") or {}),
                    )
                    for seq, i in enumerate(entry.get("items", []), start=1)
                ],
            )
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise UserError(f"store {self.path}: cannot append to the machine-room log: {err}") from None
        return inspection_id

    def inspections(
        self, since: str | None = None, kind: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Machine-room log entries, oldest first, with their items; since: an ISO date or time."""
        sql, params = "SELECT * FROM inspections WHERE 1 = 1", []
        if since:
            sql += " AND started >= ?"
            params.append(since)
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._reading():
            rows = [dict(row) for row in self.db.execute(sql, params).fetchall()][::-1]
            for row in rows:
                row["items"] = [
                    {**dict(i), "detail": _load(i["detail"]) or {}}
                    for i in self.db.execute(
                        "SELECT host, item, subject, control, status, summary, detail FROM inspection_items"
                        " WHERE inspection_id = ? ORDER BY seq",
                        (row["id"],),
                    ).fetchall()
                ]
            return rows

    # ------------------------------------------------------------------ weekly log reviews (logreview)

    def save_log_review(self, record: dict[str, Any], run_id: int | None, report_dir: str | None) -> int:
        """Keep a weekly log review (schema hisguard.log-review/1); returns its id."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        try:
            cursor = self.db.execute(
                "INSERT INTO log_reviews (since, until, reviewer, status, run_id, runner_ident, record,"
                " report_dir, stored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["since"],
                    record["until"],
                    record.get("reviewer"),
                    record["status"],
                    run_id,
                    record.get("runner_ident"),
                    _dump(record),
                    report_dir,
                    now,
                ),
            )
        except sqlite3.Error as err:
            raise UserError(f"store {self.path}: cannot keep the log review: {err}") from None
        return int(cursor.lastrowid)

    def log_review(self, review_id: int | None = None) -> dict[str, Any]:
        """One review (None: the latest): its record plus id, report_dir and the sign-off columns."""
        with self._reading():
            if review_id is None:
                row = self.db.execute("SELECT * FROM log_reviews ORDER BY id DESC LIMIT 1").fetchone()
            else:
                row = self.db.execute("SELECT * FROM log_reviews WHERE id = ?", (review_id,)).fetchone()
            if row is None:
                raise UserError(
                    f"store {self.path} has no log review {review_id}; `hisguard logreview list` lists them"
                    if review_id is not None
                    else f"store {self.path} has no log review yet; run `hisguard logreview weekly` first"
                )
            return {
                **(_load(row["record"]) or {}),
                **{k: row[k] for k in ("id", "run_id", "report_dir", "signed_by", "signed", "actions")},
            }

    def log_reviews(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._reading():
            rows = self.db.execute(
                "SELECT id, since, until, reviewer, status, signed_by, signed, report_dir FROM log_reviews"
                " ORDER BY id DESC LIMIT ?",
                (int(limit),),
            ).fetchall()
            return [dict(row) for row in rows]

    def sign_log_review(self, review_id: int, signed_by: str, actions: str | None) -> None:
        """Record the reviewer's sign-off and the actions taken; a signed review cannot be signed again."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        review = self.log_review(review_id)
        if review.get("signed"):
            raise UserError(
                f"log review {review_id} was signed by {review['signed_by']} on {review['signed']}"
            )
        try:
            self.db.execute(
                "UPDATE log_reviews SET signed_by = ?, signed = ?, actions = ? WHERE id = ?",
                (signed_by, now, actions, review_id),
            )
        except sqlite3.Error as err:
            raise UserError(f"store {self.path}: cannot sign log review {review_id}: {err}") from None

    # ------------------------------------------------------------------ vendor access (P1.2.5)

    _GRANT_COLUMNS = (
        "id",
        "host",
        "address",
        "vendor",
        "vendor_name",
        "account",
        "ticket",
        "approver",
        "granted_by",
        "granted",
        "expires",
        "from_ip",
        "key_fingerprint",
        "key_file",
        "outcome",
        "runner_ident",
    )
    _REVOCATION_COLUMNS = ("grant_id", "time", "reason", "revoked_by", "outcome", "runner_ident")

    def _insert(self, table: str, columns: tuple[str, ...], row: dict[str, Any]) -> None:
        try:
            self.db.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [row.get(column) for column in columns],
            )
        except sqlite3.Error as err:
            raise UserError(f"store {self.path}: cannot store into {table}: {err}") from None

    def save_vendor_grant(self, grant: dict[str, Any]) -> None:
        self._insert("vendor_grants", self._GRANT_COLUMNS, grant)

    def save_vendor_revocation(self, revocation: dict[str, Any]) -> None:
        self._insert("vendor_revocations", self._REVOCATION_COLUMNS, revocation)

    def vendor_grants(self) -> list[dict[str, Any]]:
        """Every stored grant, newest first, each with its `revocations` (oldest first)."""
        with self._reading():
            rows = [
                dict(row) for row in self.db.execute("SELECT * FROM vendor_grants ORDER BY granted DESC, id")
            ]
            revocations: dict[str, list[dict[str, Any]]] = {}
            for row in self.db.execute("SELECT * FROM vendor_revocations ORDER BY id"):
                revocations.setdefault(row["grant_id"], []).append(dict(row))
        for row in rows:
            row["revocations"] = revocations.get(row["id"], [])
        return rows

    def vendor_grant(self, grant_id: str) -> dict[str, Any] | None:
        return next((row for row in self.vendor_grants() if row["id"] == grant_id), None)
