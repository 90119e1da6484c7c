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
from collections.abc import Callable
from datetime import UTC, datetime

from core import log
from core.db import is_disk_full
from edge.journal import Journal, read_events
from edge.matching.types import Order, Policy
from edge.workflow.machine import Skipped, replay, step
from edge.workflow.model import (
    Append,
    CommitFailed,
    Committed,
    Context,
    Effect,
    Input,
    Result,
    State,
)

logger = logging.getLogger("edge.workflow")

WORKFLOW_TYPES = ("delivery.opened", "line.accepted", "line.rejected", "delivery.closed")


class Workflow:
    def __init__(self, journal: Journal, orders: Callable[[], dict[str, Order]], policy: Policy,
                 *, on_effect: Callable[[Effect], None] | None = None,
                 now: Callable[[], datetime] | None = None,
                 clip_id: Callable[[], str | None] | None = None) -> None:
        self.journal = journal
        self.orders = orders
        self.policy = policy
        self.on_effect = on_effect or (lambda e: None)
        self.now = now or (lambda: datetime.now(UTC))
        self.clip_id = clip_id or (lambda: None)  # the recorder's current clip, if any
        # Called with the new state after every input, under the lock (in input order):
        # the video recorder follows placements and decisions this way. Must be quick.
        self.observers: list[Callable[[State], None]] = []
        self._lock = threading.Lock()
        # Resume where the journal says we were (open delivery, line progress). An event
        # this version cannot apply is left out, with one alert for it (not one per start).
        skipped: list[Skipped] = []
        self.state: State = replay(read_events(journal.db, types=WORKFLOW_TYPES), skipped)
        for s in skipped:
            alert_skipped(journal, s)

    def _ctx(self) -> Context:
        return Context(orders=self.orders(), policy=self.policy, now=self.now(),
                       clip_id=self.clip_id())

    def handle(self, inp: Input) -> Result:
        with self._lock:
            ctx = self._ctx()
            res = step(self.state, inp, ctx)
            self.state = res.state
            for eff in res.effects:
                if isinstance(eff, Append):
                    fed = self._commit(eff, ctx)
                    res = Result(fed.state, res.effects, fed.refused or res.refused, res.decision)
                else:
                    self.on_effect(eff)
            for obs in self.observers:
                try:
                    obs(self.state)
                except Exception as exc:  # an observer's trouble must not stop acceptance
                    log.kv(logger, logging.ERROR, "state observer failed", error=repr(exc))
            return res

    def _commit(self, eff: Append, ctx: Context) -> Result:
        try:
            with self.journal.transaction() as tx:
                events = tuple(tx.append(t, body) for t, body in eff.events)
        except Exception as exc:  # a failed commit must leave the line undecided, not crash
            full = is_disk_full(exc)
            log.kv(logger, logging.ERROR, "commit failed", error=repr(exc), disk_full=full)
            res = step(self.state, CommitFailed(eff.placement_id, str(exc), disk_full=full), ctx)
        else:
            res = step(self.state, Committed(events), ctx)
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
