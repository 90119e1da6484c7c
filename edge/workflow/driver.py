"""Runs the pure workflow against the journal: the one owner of the station's state.

``handle`` takes one input under a lock, commits any ``Append`` effect to the
journal (durably, ``synchronous=FULL``) and only then applies ``Committed``, so
a decision reported as accepted is on disk, and two concurrent confirms of one
placement record one event. Other effects (tare, scan window) are handed to the
device callbacks.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from core import log
from core.db import is_disk_full
from edge.journal import Journal, read_events
from edge.matching.types import Order, Policy
from edge.roster import lockout
from edge.roster.model import Roster
from edge.workflow.machine import Skipped, replay, step
from edge.workflow.model import (
    Append,
    CommitFailed,
    Committed,
    Context,
    Effect,
    Input,
    Placement,
    Reading,
    Result,
    ScaleLive,
    State,
)
from edge.workflow.scale_feed import ScaleFeed

logger = logging.getLogger("edge.workflow")

WORKFLOW_TYPES = ("delivery.opened", "line.accepted", "line.rejected", "delivery.closed",
                  "placement.started", "placement.ended", "inspector.signed_in",
                  "inspector.signed_out", "rejection.disposed",
                  "document.captured")


@dataclass(frozen=True)
class PeoplePolicy:
    """Sign-in rules ([receiving] in the station config)."""

    pin_attempts: int = 5
    lockout_s: float = 300.0
    idle_signout_s: float = 600.0


class Workflow:
    def __init__(self, journal: Journal, orders: Callable[[], dict[str, Order]], policy: Policy,
                 *, on_effect: Callable[[Effect], None] | None = None,
                 now: Callable[[], datetime] | None = None,
                 clip_id: Callable[[], str | None] | None = None,
                 scale: ScaleFeed | None = None, max_weight_age_s: float = 1.5,
                 scan_hold_s: float = 10.0, roster: Callable[[], Roster | None] | None = None,
                 people: PeoplePolicy | None = None,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self.journal = journal
        # The station hands its scale link's feed; without one (tests, tools) the readings
        # handed to ``handle`` are the link's, received when handed.
        self.scale = scale if scale is not None else ScaleFeed(connected=True)
        self.max_weight_age_s = max_weight_age_s
        self.scan_hold_s = scan_hold_s
        self.roster = roster or (lambda: None)  # who may sign in (edge.roster.store)
        self.people = people or PeoplePolicy()
        self.mono = mono  # the clock of lockouts and idle sign-out
        self.orders = orders
        self.policy = policy
        self.on_effect = on_effect or (lambda e: None)
        self.now = now or (lambda: datetime.now(UTC))
        self.clip_id = clip_id or (lambda: None)  # the recorder's current clip, if any
        # Called with the new state after every input, under the lock (in input order):
        # the video recorder follows placements and decisions this way. Must be quick.
        self.observers: list[Callable[[State], None]] = []
        self._lock = threading.Lock()
        # The latest refusal, whatever its source (a tap, a scan, a badge): every kiosk screen
        # shows it, not only the one whose request was refused. {"id", "code", "message", "mono"}
        self.notice: dict[str, Any] | None = None
        # Resume where the journal says we were (open delivery, line progress, the placement
        # on the pan). An event this version cannot apply is left out, with one alert for it
        # (not one per start).
        skipped: list[Skipped] = []
        state = replay(read_events(journal.db, types=WORKFLOW_TYPES), skipped)
        for s in skipped:
            alert_skipped(journal, s)
        if not state.placement.placement_id:
            state = replace(state, placement=Placement(str(uuid.uuid4())))
        # Wrong-PIN counts and lockouts are not journaled: they come back from their table.
        state = replace(state, pin_failures=lockout.load(
            journal.db, mono=self.mono(), wall=self.now().timestamp(), lockout_s=self.people.lockout_s))
        self.state: State = state

    def live(self) -> ScaleLive:
        """The scale link now (the kiosk greys a weight that is not fresh)."""
        return self.scale.live()

    def _ctx(self) -> Context:
        return Context(orders=self.orders(), policy=self.policy, now=self.now(),
                       clip_id=self.clip_id(), scale=self.scale.live(),
                       fresh_id=str(uuid.uuid4()), max_weight_age_s=self.max_weight_age_s,
                       scan_hold_s=self.scan_hold_s, mono=self.mono(), roster=self.roster(),
                       pin_attempts=self.people.pin_attempts, lockout_s=self.people.lockout_s,
                       idle_signout_s=self.people.idle_signout_s)

    def handle(self, inp: Input) -> Result:
        if isinstance(inp, Reading):
            inp = Reading(self.scale.note(inp.weight))
        with self._lock:
            ctx = self._ctx()
            before = self.state.pin_failures
            res = step(self.state, inp, ctx)
            self.state = res.state
            if res.state.pin_failures != before:
                self._save_failures(res.state, ctx)
            for eff in res.effects:
                if isinstance(eff, Append):
                    fed = self._commit(eff, ctx)
                    res = replace(res, state=fed.state, refused=fed.refused or res.refused,
                                  committed=fed.committed)
                else:
                    self.on_effect(eff)
            if res.refused is not None:
                self.notice = {"id": (self.notice or {"id": 0})["id"] + 1, "code": res.refused.code,
                               "message": res.refused.message, "mono": self.mono()}
            for obs in self.observers:
                try:
                    obs(self.state)
                except Exception as exc:  # an observer's trouble must not stop acceptance
                    log.kv(logger, logging.ERROR, "state observer failed", error=repr(exc))
            return res

    def _save_failures(self, state: State, ctx: Context) -> None:
        """Keep wrong-PIN counts over a restart; a failed save is logged (the count stays in memory)."""
        try:
            lockout.save(self.journal, state.pin_failures, mono=ctx.mono, wall=ctx.now.timestamp())
        except Exception as exc:
            log.kv(logger, logging.ERROR, "wrong-PIN counts not saved", error=repr(exc))

    def _commit(self, eff: Append, ctx: Context) -> Result:
        try:
            with self.journal.transaction() as tx:
                events: list[dict[str, Any]] = []
                for t, body in eff.events:
                    line = [e for e in events if e["type"].startswith("line.")]
                    if eff.refs_line and line and "refs" in body:
                        body = {**body, "refs": [line[0]["seq"], *body["refs"]]}
                    events.append(tx.append(t, body))
        except Exception as exc:  # a failed commit must leave the line undecided, not crash
            full = is_disk_full(exc)
            log.kv(logger, logging.ERROR, "commit failed", error=repr(exc), disk_full=full)
            res = step(self.state, CommitFailed(eff.placement_id, str(exc), disk_full=full), ctx)
        else:
            res = replace(step(self.state, Committed(tuple(events)), ctx),
                          committed=tuple(events))
        self.state = res.state
        return res


def alert_skipped(journal: Journal, s: Skipped) -> None:
    """One ``alert.raised REPLAY_SKIPPED`` per skipped event, however often the station starts."""
    log.kv(logger, logging.ERROR, "journal event skipped on replay", seq=s.seq, type=s.type,
           error=s.error)
    journal.append_once("alert.raised", {
        "code": "REPLAY_SKIPPED", "severity": "error", "refs": [s.seq],
        "message": f"event {s.seq} ({s.type}) cannot be applied on replay and was skipped: "
                   f"{s.error}"[:2000],
    }, {"code": "REPLAY_SKIPPED", "refs[0]": s.seq})
