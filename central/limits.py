"""Per-station budgets of a central ingest worker: one station's garbage cannot slow another's acks.

Two token buckets per station, both checked before a message is even parsed:
every batch takes one token of ``rate``; every batch answered ``rejected``
takes one of ``bad``. A station out of either is dropped unanswered (its
uplink resends after its ack timeout) until the bucket refills, so a flood
costs the worker a dictionary lookup per message. An honest station never
comes near either budget: its window of ``max_in_flight`` batches bounds its
rate, and it rarely earns a ``rejected``. A ``gap`` is not penalised: two
workers answering one station's consecutive batches out of order make gaps in
normal operation; gap batches are bounded by the rate budget and by the
worker's deferral slots.

Dropping is not enough against a station that publishes faster than a worker
can even read: the broker's queue towards the worker fills and the broker then
drops *everyone's* messages. So a station with ``quarantine_after`` drops is
quarantined: the worker unsubscribes from its topics (``central.subscriptions``)
and the broker discards its messages at the door, for ``quarantine_s``, doubled
at each repeat (at most an hour).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Bucket:
    """A token bucket: ``burst`` tokens, refilled at ``rate`` per second."""

    rate: float
    burst: float
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now


@dataclass
class Budget:
    batches: Bucket
    bad: Bucket
    dropped: int = 0
    last_report: float = field(default=0.0)
    strike_drops: int = 0  # drops since the last quarantine
    strikes: int = 0
    quarantined_until: float = 0.0


class StationLimits:
    """The budgets of every station seen by one worker."""

    def __init__(self, rate: float, burst: float, bad_rate: float, bad_burst: float, *,
                 quarantine_after: int = 50, quarantine_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.bad_rate, self.bad_burst = rate, burst, bad_rate, bad_burst
        self.quarantine_after, self.quarantine_s = quarantine_after, quarantine_s
        self.clock = clock
        self.budgets: dict[str, Budget] = {}

    def _budget(self, station: str, now: float) -> Budget:
        b = self.budgets.get(station)
        if b is None:
            b = Budget(Bucket(self.rate, self.burst, self.burst, now),
                       Bucket(self.bad_rate, self.bad_burst, self.bad_burst, now))
            self.budgets[station] = b
        return b

    def admit(self, station: str) -> bool:
        """Whether to process this station's next batch (takes a token when it does)."""
        now = self.clock()
        b = self._budget(station, now)
        b.batches.refill(now)
        b.bad.refill(now)
        if now < b.quarantined_until:  # still queued at the broker when it was quarantined
            b.dropped += 1
            return False
        if b.batches.tokens < 1 or b.bad.tokens < 1:
            b.dropped += 1
            b.strike_drops += 1
            return False
        b.batches.tokens -= 1
        return True

    def penalise(self, station: str) -> None:
        """The batch just processed was ``rejected``."""
        b = self._budget(station, self.clock())
        b.bad.tokens = max(0.0, b.bad.tokens - 1)

    def drops_to_report(self, every_s: float = 10.0) -> list[tuple[str, int]]:
        """(station, dropped since the last report) for stations not reported in ``every_s``."""
        now = self.clock()
        out = []
        for station, b in self.budgets.items():
            if b.dropped and now - b.last_report >= every_s:
                out.append((station, b.dropped))
                b.dropped, b.last_report = 0, now
        return out

    def to_quarantine(self) -> list[tuple[str, float, int]]:
        """Stations to quarantine now: (station, seconds, drops that earned it)."""
        now = self.clock()
        out = []
        for station, b in self.budgets.items():
            if b.strike_drops >= self.quarantine_after and now >= b.quarantined_until:
                seconds = min(3600.0, self.quarantine_s * 2 ** b.strikes)
                out.append((station, seconds, b.strike_drops))
                b.strikes += 1
                b.strike_drops = 0
                b.quarantined_until = now + seconds
                b.batches.tokens, b.bad.tokens = b.batches.burst, b.bad.burst
        return out

    def quarantined(self) -> set[str]:
        now = self.clock()
        return {s for s, b in self.budgets.items() if now < b.quarantined_until}


MAX_CLIENTS = 10000


class ClientLimits:
    """A token bucket per client address; the least recently seen are forgotten beyond ``MAX_CLIENTS``.

    Used by the public pages (requests) and the web app's login (attempts per address)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()
        self.lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            b = self.buckets.pop(client, None) or Bucket(self.rate, self.burst, self.burst, now)
            self.buckets[client] = b
            while len(self.buckets) > MAX_CLIENTS:
                self.buckets.popitem(last=False)
            b.refill(now)
            if b.tokens < 1:
                return False
            b.tokens -= 1
            return True
