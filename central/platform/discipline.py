"""The discipline loop: each warning is open → explained → closed or escalated, within a deadline.

Tables (owned here): ``platform_cases`` (one row per warning: its state, deadline, current
explanation document and its two stamps, the review) and ``platform_case_log`` (append-only: every
upload, stamp and transition, naming the account). Rules:

- The school explains: a school leader or the discipline committee of the warning's school uploads
  a document (``central.platform.documents``); each of the two roles then stamps *that* document.
  Both stamps, by two different accounts, make the warning ``explained``. A new document clears
  the stamps.
- The city bureau reviews an explained warning: ``closed``, or ``escalated`` with a note; it may
  also close an escalated one once handled.
- ``step`` (periodic, idempotent) opens a case for every new warning with its deadline (working
  days, ``central.platform.workdays``) and escalates every open one past it, as ``system``.

Every change is a conditional UPDATE on the state it expects (``… WHERE state=? RETURNING``), so two
clicks or two processes never apply one transition twice; the loser gets ``Conflict``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from central.platform import warnings as warning_table
from central.platform.config import DisciplineSection
from central.platform.data import parse_at, rfc3339
from central.platform.workdays import deadline
from central.store import Store

STATES = {"open": "待说明", "explained": "已说明", "closed": "已结案", "escalated": "已上报"}
SYSTEM = "system"
DDL = (
    """CREATE TABLE IF NOT EXISTS platform_cases (
        warning_id TEXT PRIMARY KEY,
        school_id TEXT NOT NULL,
        state TEXT NOT NULL,
        deadline TEXT NOT NULL,
        document_sha256 TEXT,
        document_type TEXT,
        document_name TEXT,
        stamp_school_by TEXT,
        stamp_committee_by TEXT,
        review_note TEXT,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS platform_case_log (
        warning_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        at TEXT NOT NULL,
        account TEXT NOT NULL,
        action TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT,
        detail TEXT NOT NULL,
        PRIMARY KEY (warning_id, n)
    )""",
    "CREATE INDEX IF NOT EXISTS platform_cases_state ON platform_cases (state, deadline)",
)
CASE_COLUMNS = ("warning_id, school_id, state, deadline, document_sha256, document_type, document_name, "
                "stamp_school_by, stamp_committee_by, review_note, updated_at")
PENDING_SQL = ("SELECT 1 WHERE EXISTS (SELECT 1 FROM platform_warnings w LEFT JOIN platform_cases c "
               "ON c.warning_id = w.warning_id WHERE c.warning_id IS NULL) OR EXISTS (SELECT 1 FROM "
               "platform_cases WHERE state = 'open' AND deadline <= ?)")
STAMP_COLUMN = {"school_leader": "stamp_school_by", "discipline_committee": "stamp_committee_by"}


class Actor(Protocol):
    """Who acts (a web account): its name, role and school (None for city-wide roles)."""

    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def school_id(self) -> str | None: ...


class Refused(Exception):
    """This account may not do this to this warning (403)."""


class Conflict(Exception):
    """The warning is not in a state that allows this (409); the message says which (zh-CN)."""


@dataclass(frozen=True)
class Case:
    warning_id: str
    school_id: str
    state: str
    deadline: str
    document_sha256: str | None
    document_type: str | None
    document_name: str | None
    stamp_school_by: str | None
    stamp_committee_by: str | None
    review_note: str | None
    updated_at: str

    @property
    def state_name(self) -> str:
        return STATES.get(self.state, self.state)


def ensure_tables(store: Store) -> None:
    warning_table.ensure_tables(store)
    warning_table.ensure_tables(store, DDL, lock=727032)


def _log(store: Store, warning_id: str, who: str, action: str, from_state: str | None, to_state: str | None,
         detail: dict[str, Any], now: datetime) -> None:
    # n: the case's own sequence (its row is locked by the caller's UPDATE, so no two writers race).
    store._exec("INSERT INTO platform_case_log(warning_id, n, at, account, action, from_state, to_state, "
                "detail) SELECT ?, COALESCE(MAX(n), 0) + 1, ?,?,?,?,?,? FROM platform_case_log "
                "WHERE warning_id=?",
                (warning_id, rfc3339(now), who, action, from_state, to_state,
                 json.dumps(detail, ensure_ascii=False, sort_keys=True), warning_id))


def step(store: Store, cfg: DisciplineSection, tz: tzinfo, now: datetime | None = None) -> dict[str, int]:
    """Open a case for every warning without one, then escalate every open case past its deadline."""
    now = now or datetime.now(UTC)
    opened = escalated = 0
    if not store.rows(PENDING_SQL, (rfc3339(now),)):  # the usual case: no write transaction at all
        return {"opened": 0, "escalated": 0}
    with store.transaction():
        new = store.rows("SELECT w.warning_id, w.school_id, w.created_at FROM platform_warnings w "
                         "LEFT JOIN platform_cases c ON c.warning_id = w.warning_id "
                         "WHERE c.warning_id IS NULL")
        for warning_id, school, created in new:
            due = deadline(parse_at(str(created)), cfg.deadline_working_days, cfg.holidays, tz)
            if store.rows(f"INSERT INTO platform_cases({CASE_COLUMNS}) VALUES (?,?,'open',?,NULL,NULL,NULL,"
                          "NULL,NULL,NULL,?) ON CONFLICT (warning_id) DO NOTHING RETURNING warning_id",
                          (warning_id, school, rfc3339(due), rfc3339(now))):
                _log(store, str(warning_id), SYSTEM, "opened", None, "open", {"deadline": rfc3339(due)}, now)
                opened += 1
        for (warning_id, due) in store.rows(
                "UPDATE platform_cases SET state='escalated', review_note=?, updated_at=? "
                "WHERE state='open' AND deadline <= ? RETURNING warning_id, deadline",
                ("逾期未说明，自动上报", rfc3339(now), rfc3339(now))):
            _log(store, str(warning_id), SYSTEM, "overdue", "open", "escalated", {"deadline": str(due)}, now)
            escalated += 1
    return {"opened": opened, "escalated": escalated}


def case(store: Store, warning_id: str, lock: bool = False) -> Case | None:
    """The warning's case; ``lock`` (inside a transaction) row-locks it on PostgreSQL until the end
    (SQLite's write transaction already excludes other writers)."""
    rows = store.rows(f"SELECT {CASE_COLUMNS} FROM platform_cases WHERE warning_id=?"
                      + (" FOR UPDATE" if lock and store.pg else ""), (warning_id,))
    return Case(*(None if v is None else str(v) for v in rows[0])) if rows else None  # type: ignore[arg-type]


def cases(store: Store, school_id: str | None = None) -> dict[str, Case]:
    sql = f"SELECT {CASE_COLUMNS} FROM platform_cases"
    rows = store.rows(sql + " WHERE school_id=?", (school_id,)) if school_id else store.rows(sql)
    return {str(r[0]): Case(*(None if v is None else str(v) for v in r)) for r in rows}  # type: ignore[arg-type]


def tally(store: Store, since_day: str = "") -> list[tuple[str, str, str, str, int]]:
    """(school, indicator, day, state, count) of every warning from ``since_day`` on, counted in
    SQL (a warning without a case yet counts as open)."""
    return [(str(a), str(b), str(c), str(d), int(n)) for a, b, c, d, n in store.rows(
        "SELECT w.school_id, w.indicator, w.day, COALESCE(c.state, 'open'), count(*) "
        "FROM platform_warnings w LEFT JOIN platform_cases c ON c.warning_id = w.warning_id "
        "WHERE w.day >= ? GROUP BY w.school_id, w.indicator, w.day, COALESCE(c.state, 'open')",
        (since_day,))]


def history(store: Store, warning_id: str) -> list[dict[str, Any]]:
    """The case's log, oldest first."""
    return [{"at": a, "account": who, "action": act, "from": f, "to": t, "detail": json.loads(d)}
            for a, who, act, f, t, d in store.rows(
                "SELECT at, account, action, from_state, to_state, detail FROM platform_case_log "
                "WHERE warning_id=? ORDER BY n", (warning_id,))]


def may_explain(store: Store, actor: Actor, warning_id: str) -> None:
    """Refused or Conflict unless ``actor`` may upload an explanation now (checked again on attach)."""
    _own_case(store, actor, warning_id, lock=False)


def _own_case(store: Store, actor: Actor, warning_id: str, lock: bool = True) -> Case:
    c = case(store, warning_id, lock=lock)
    if c is None or actor.role not in STAMP_COLUMN or actor.school_id != c.school_id:
        raise Refused("only the warning's school may explain it")
    if c.state != "open":
        raise Conflict(f"预警当前为「{c.state_name}」，不能再提交说明")
    return c


def attach(store: Store, actor: Actor, warning_id: str, sha: str, ctype: str, name: str,
           now: datetime | None = None) -> None:
    """The school's written explanation (a stored document); clears earlier stamps."""
    now = now or datetime.now(UTC)
    with store.transaction():
        _own_case(store, actor, warning_id)
        store._exec("UPDATE platform_cases SET document_sha256=?, document_type=?, document_name=?, "
                    "stamp_school_by=NULL, stamp_committee_by=NULL, updated_at=? WHERE warning_id=?",
                    (sha, ctype, name[:200], rfc3339(now), warning_id))
        _log(store, warning_id, actor.username, "document", "open", "open",
             {"sha256": sha, "type": ctype, "name": name[:200], "role": actor.role}, now)


def stamp(store: Store, actor: Actor, warning_id: str, sha: str, now: datetime | None = None) -> Case:
    """The actor's role declares its stamp on document ``sha``; both stamps make it ``explained``."""
    now = now or datetime.now(UTC)
    with store.transaction():
        c = _own_case(store, actor, warning_id)
        if c.document_sha256 is None or c.document_sha256 != sha:
            raise Conflict("说明文件已更换，请核对后再盖章")
        other = c.stamp_committee_by if actor.role == "school_leader" else c.stamp_school_by
        if other == actor.username:
            raise Refused("the two stamps must come from two different accounts")
        column = STAMP_COLUMN[actor.role]
        store._exec(f"UPDATE platform_cases SET {column}=?, updated_at=? WHERE warning_id=?",
                    (actor.username, rfc3339(now), warning_id))
        _log(store, warning_id, actor.username, "stamp", "open", "open",
             {"sha256": sha, "role": actor.role}, now)
        if other is not None:
            _transition(store, warning_id, "open", "explained", actor.username, "explained",
                        {"sha256": sha}, now)
    got = case(store, warning_id)
    assert got is not None
    return got


def _transition(store: Store, warning_id: str, from_state: str, to_state: str, who: str, action: str,
                detail: dict[str, Any], now: datetime, note: str | None = None) -> None:
    if not store.rows("UPDATE platform_cases SET state=?, review_note=COALESCE(?, review_note), updated_at=? "
                      "WHERE warning_id=? AND state=? RETURNING warning_id",
                      (to_state, note, rfc3339(now), warning_id, from_state)):
        raise Conflict("预警状态已变化，请刷新后重试")
    _log(store, warning_id, who, action, from_state, to_state, detail, now)


REVIEWS = {("explained", "close"): "closed", ("explained", "escalate"): "escalated",
           ("escalated", "close"): "closed"}


def review(store: Store, actor: Actor, warning_id: str, decision: str, note: str,
           now: datetime | None = None) -> None:
    """The city bureau closes an explained (or escalated) warning, or escalates an explained one."""
    now = now or datetime.now(UTC)
    if actor.role != "city_bureau":
        raise Refused("only the city bureau reviews warnings")
    note = note.strip()[:2000]
    if decision == "escalate" and not note:
        raise Conflict("上报须填写意见")
    with store.transaction():
        c = case(store, warning_id, lock=True)
        if c is None:
            raise Conflict("没有这条预警")
        to_state = REVIEWS.get((c.state, decision))
        if to_state is None:
            raise Conflict(f"预警当前为「{c.state_name}」，不能{'结案' if decision == 'close' else '上报'}")
        _transition(store, warning_id, c.state, to_state, actor.username, decision, {"note": note}, now,
                    note or None)
