"""What central holds for a station, and whether it verifies: count, head seq and hash, chain.

``audit`` reads one snapshot of the store (a read transaction), walks the
station's events in seq order in pages, and checks the whole chain with the
same code as the station's ``verify`` (``contract.chain.verify_chain``: hash,
signature, ``prev_hash`` link, no holes), then that the head row names the last
event. ``central-verify`` runs it from scratch; ``GET /v1/stations/{s}/head``
(``head_answer``, served by ``central.api``) keeps a checkpoint per station so
each request only verifies what arrived since the last one, while the count is
always read afresh.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from central.store import Store
from contract.chain import GENESIS_HASH, verify_chain

PAGE = 2000


@dataclass(frozen=True)
class Checkpoint:
    """The end of a prefix already verified: its last seq and hash."""

    seq: int = 0
    hash: str = GENESIS_HASH


@dataclass(frozen=True)
class HeadReport:
    station_id: str
    count: int  # events held
    head_seq: int  # the head row: central holds the verified chain 1..head_seq
    head_hash: str
    verified: bool
    problem: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _events_after(store: Store, station: str, after: int) -> Iterator[dict[str, Any]]:
    while True:
        rows = store.rows("SELECT seq, event FROM central_events WHERE station_id=? AND seq>? "
                          "ORDER BY seq LIMIT ?", (station, after, PAGE))
        for seq, text in rows:
            yield dict(json.loads(text))
            after = int(seq)
        if len(rows) < PAGE:
            return


def audit(store: Store, station: str, key: Ed25519PublicKey | None,
          start: Checkpoint = Checkpoint()) -> tuple[HeadReport, Checkpoint]:
    """The report, and the new checkpoint (``start`` again when something is wrong)."""
    last = [start]

    def tracked(events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for ev in events:
            last[0] = Checkpoint(int(ev.get("seq") or 0), str(ev.get("hash", "")))
            yield ev

    with store.snapshot():
        count = int(store.rows("SELECT count(*) FROM central_events WHERE station_id=?",
                               (station,))[0][0])
        head = store.head(station)
        if key is None:
            return HeadReport(station, count, head.last_seq, head.last_hash, False,
                              "no public key registered for this station"), start
        problems = verify_chain(tracked(_events_after(store, station, start.seq)), key,
                                start_seq=start.seq + 1, prev_hash=start.hash)
        problem = next((str(p) for p in problems), None)
    end = last[0]
    if problem is None and (end.seq, end.hash) != (head.last_seq, head.last_hash):
        problem = (f"the head row says seq {head.last_seq} ({head.last_hash[:16]}…) but the last "
                   f"event held is seq {end.seq} ({end.hash[:16]}…)")
    if problem is None and count != head.last_seq:
        problem = f"{count} events held for seq 1..{head.last_seq}"
    ok = problem is None
    return HeadReport(station, count, head.last_seq, head.last_hash, ok, problem), (end if ok else start)


class Auditor:
    """``audit`` with a verified checkpoint per station, for repeated HTTP requests."""

    def __init__(self, use_store: Callable[[Callable[[Store], Any]], Any],
                 keys: Callable[[str], Ed25519PublicKey | None]) -> None:
        self.use_store = use_store
        self.keys = keys
        self._checkpoints: dict[str, Checkpoint] = {}
        self._lock = threading.Lock()

    def head(self, station: str) -> HeadReport:
        with self._lock:
            start = self._checkpoints.get(station, Checkpoint())
            key = self.keys(station)
            report: HeadReport
            report, self._checkpoints[station] = self.use_store(
                lambda s: audit(s, station, key, start))
            return report


_sources: dict[str, Auditor] = {}


def install(auditor: Auditor) -> None:
    _sources["auditor"] = auditor


def head_answer(station: str) -> tuple[int, dict[str, Any]]:
    """The route's status and document (404 for a station central has no key for)."""
    auditor = _sources.get("auditor")
    if auditor is None:
        return 503, {"error": "the head route is not configured"}
    if auditor.keys(station) is None:
        return 404, {"error": "unknown station"}
    return 200, auditor.head(station).to_json()
