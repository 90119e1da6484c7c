"""The rollout's tables at central; this module owns them (docs/architecture.md).

- ``central_releases``: published release bundles (version, sha256, size, signature);
  the files themselves are in ``[releases] dir`` (``central.rollout.files``).
- ``central_station_groups``: a station's rollout group (``canary``; absent: the rest).
- ``central_rollouts``: every rollout started, the newest one the only active one.
- ``central_station_updates``: per station, its running version and its last update's outcome.

Every decision is made inside one write transaction with the facts it read, so two
reports arriving together cannot both promote or both miss a halt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from central.rollout import enrol
from central.rollout.plan import CANARY, Rollout, StationReport, evaluate
from central.store import Store
from core.clock import now_rfc3339

T = TypeVar("T")
LOCK = 727161
DDL = (
    """CREATE TABLE IF NOT EXISTS central_releases (
        version TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        signature TEXT NOT NULL,
        published_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS central_station_groups (
        station_id TEXT PRIMARY KEY,
        grp TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS central_rollouts (
        rollout_id BIGINT PRIMARY KEY,
        version TEXT NOT NULL,
        stage TEXT NOT NULL,
        state TEXT NOT NULL,
        max_failure_rate DOUBLE PRECISION NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS central_station_updates (
        station_id TEXT PRIMARY KEY,
        version TEXT,
        target TEXT,
        result TEXT,
        detail TEXT,
        reported_at TEXT NOT NULL
    )""",
)


class RolloutError(ValueError):
    """A request the rollout cannot take (unknown version, no rollout...)."""


@dataclass(frozen=True)
class Release:
    version: str
    sha256: str
    size: int
    signature: str
    published_at: str


def open_store(dsn: str) -> Store:
    """The central store with this module's tables and the enrolment codes' (``central.rollout.enrol``)."""
    store = Store(dsn)
    store.create_tables((*DDL, *enrol.DDL), LOCK)
    return store


class SharedStore:
    """One connection for the HTTP threads, used by one at a time; reopened after an error."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.lock = threading.Lock()
        self.store: Store | None = None

    def run(self, fn: Callable[[Store], T]) -> T:
        with self.lock:
            try:
                if self.store is None:
                    self.store = open_store(self.dsn)
                return fn(self.store)
            except ValueError:  # a refusal (RolloutError, EnrolError): the connection is fine
                raise
            except Exception:
                if self.store is not None:
                    self.store.close()
                self.store = None
                raise


# -- releases ------------------------------------------------------------------------------------
def add_release(store: Store, r: Release) -> None:
    with store.transaction():
        old = release(store, r.version)
        if old is not None and old.sha256 != r.sha256:
            raise RolloutError(f"version {r.version} is already published with another bundle "
                               f"(sha256 {old.sha256[:12]}…); publish a new version")
        if old is None:
            store.execute("INSERT INTO central_releases(version, sha256, size, signature, published_at) "
                          "VALUES (?,?,?,?,?)", (r.version, r.sha256, r.size, r.signature, r.published_at))


def release(store: Store, version: str) -> Release | None:
    rows = store.rows("SELECT version, sha256, size, signature, published_at FROM central_releases "
                      "WHERE version=?", (version,))
    return None if not rows else Release(str(rows[0][0]), str(rows[0][1]), int(rows[0][2]),
                                         str(rows[0][3]), str(rows[0][4]))


def releases(store: Store) -> list[Release]:
    return [Release(str(a), str(b), int(c), str(d), str(e)) for a, b, c, d, e in store.rows(
        "SELECT version, sha256, size, signature, published_at FROM central_releases ORDER BY published_at")]


# -- groups --------------------------------------------------------------------------------------
def set_group(store: Store, stations: list[str], group: str | None) -> None:
    """Put stations into ``group`` (None: back to the rest)."""
    with store.transaction():
        for s in stations:
            store.execute("DELETE FROM central_station_groups WHERE station_id=?", (s,))
            if group is not None:
                store.execute("INSERT INTO central_station_groups(station_id, grp) VALUES (?,?)", (s, group))


def groups(store: Store) -> dict[str, str]:
    return {str(s): str(g) for s, g in store.rows("SELECT station_id, grp FROM central_station_groups")}


def group_of(store: Store, station: str) -> str | None:
    rows = store.rows("SELECT grp FROM central_station_groups WHERE station_id=?", (station,))
    return str(rows[0][0]) if rows else None


# -- rollouts ------------------------------------------------------------------------------------
def _rollout(row: tuple[object, ...]) -> Rollout:
    a, b, c, d, e, f = row
    return Rollout(int(str(a)), str(b), str(c), str(d), float(str(e)), str(f))


def current(store: Store, lock: bool = False) -> Rollout | None:
    """The newest rollout (active, halted or superseded), or None; ``lock``: row-locked (PostgreSQL)."""
    rows = store.rows("SELECT rollout_id, version, stage, state, max_failure_rate, reason "
                      "FROM central_rollouts ORDER BY rollout_id DESC LIMIT 1"
                      + (" FOR UPDATE" if lock and store.pg else ""))
    return _rollout(rows[0]) if rows else None


def _save(store: Store, r: Rollout) -> None:
    store.execute("UPDATE central_rollouts SET stage=?, state=?, reason=?, updated_at=? WHERE rollout_id=?",
                  (r.stage, r.state, r.reason, now_rfc3339(), r.rollout_id))


def start(store: Store, version: str, max_failure_rate: float) -> Rollout:
    """A new rollout of a published version; the one before it, if active, is superseded."""
    if not 0.0 <= max_failure_rate < 1.0:
        raise RolloutError("the failure rate threshold must be in [0, 1)")
    with store.transaction():
        if release(store, version) is None:
            raise RolloutError(f"version {version} is not published (central-admin release publish)")
        before = current(store, lock=True)
        if before is not None and before.state == "active":
            _save(store, Rollout(before.rollout_id, before.version, before.stage, "superseded",
                                 before.max_failure_rate, f"superseded by {version}"))
        rid = (before.rollout_id if before else 0) + 1
        now = now_rfc3339()
        store.execute("INSERT INTO central_rollouts(rollout_id, version, stage, state, max_failure_rate, "
                      "reason, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
                      (rid, version, CANARY, "active", max_failure_rate, "", now, now))
        return _reevaluate(store, Rollout(rid, version, CANARY, "active", max_failure_rate))


def set_state(store: Store, state: str, reason: str) -> Rollout:
    """``halt`` the newest rollout by hand, or ``resume`` it (to every station: the admin
    accepts what halted it)."""
    with store.transaction():
        r = current(store, lock=True)
        if r is None:
            raise RolloutError("no rollout was started")
        if r.state == "superseded":
            raise RolloutError(f"rollout {r.rollout_id} was superseded")
        r = Rollout(r.rollout_id, r.version, "all" if state == "active" else r.stage, state,
                    r.max_failure_rate, reason)
        _save(store, r)
        return r


def _reevaluate(store: Store, r: Rollout) -> Rollout:
    canaries = sorted(s for s, g in groups(store).items() if g == CANARY)
    after = evaluate(r, canaries, station_reports(store, canaries))
    if after != r:
        _save(store, after)
    return after


# -- station reports -----------------------------------------------------------------------------
def station_reports(store: Store, stations: list[str] | None = None) -> dict[str, StationReport]:
    rows = store.rows("SELECT station_id, version, target, result FROM central_station_updates")
    return {str(s): StationReport(v, t, r) for s, v, t, r in rows if stations is None or s in stations}


def record_report(store: Store, station: str, version: str | None, target: str | None,
                  result: str | None, detail: str) -> Rollout | None:
    """Store a station's report and re-decide the rollout with it (one transaction)."""
    with store.transaction():
        r = current(store, lock=True)  # reports are decided one after the other
        store.execute("INSERT INTO central_station_updates(station_id, version, target, result, detail, "
                      "reported_at) VALUES (?,?,?,?,?,?) ON CONFLICT (station_id) DO UPDATE SET "
                      "version=excluded.version, target=excluded.target, result=excluded.result, "
                      "detail=excluded.detail, reported_at=excluded.reported_at",
                      (station, version, target, result, detail[:2000], now_rfc3339()))
        return None if r is None else _reevaluate(store, r)


def stations_table(store: Store) -> list[tuple[str, str | None, str | None, str | None, str, str]]:
    """(station, group, version, target, result, reported_at) for ``rollout status``."""
    g = groups(store)
    rows = store.rows("SELECT station_id, version, target, result, reported_at FROM central_station_updates "
                      "ORDER BY station_id")
    return [(str(s), g.get(str(s)), v, t, r, str(at)) for s, v, t, r, at in rows]
