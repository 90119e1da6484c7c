"""Central's decision on one batch: validate, verify, store once, answer.

``ingest`` is the whole rule of docs/contract.md §4 for one batch, over a ``Store``
and a key lookup, with no MQTT in it, so the tests drive it directly and the
worker is a thin adapter. Its steps are separate so the worker can answer the
cheap refusals first and defer a gap without holding anything
(``prepare`` → ``gap_answer`` → ``verify`` → ``commit``). Every batch is answered: ``stored`` when new events
were committed, ``duplicate`` when all were already held with the same hash,
``gap`` (with ``expected_seq``) when the batch starts past the next seq
needed, ``rejected`` (with ``error`` and an alert row) for anything that fails
schema, hash, link, signature or is a fork. Verified events before a bad one in
the same batch are stored; the bad one and the rest are not.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from central.store import Head, Store
from contract import protocol, schemas
from contract.chain import canonical_json, check_event, event_hash, public_key_from_hex
from contract.ids import is_valid_id
from core import log

logger = logging.getLogger("central")
MAX_BATCH_BYTES = 1_048_576  # the broker's max_packet_size: nothing larger can arrive
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

KeyLookup = Callable[[str], Ed25519PublicKey | None]


class KeyRegistry:
    """Stations' public keys from a folder of ``<station_id>.pub`` files (hex).

    Keys found are cached; a miss is looked up again next time, so registering
    a station needs no restart.
    """

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir
        self._cache: dict[str, Ed25519PublicKey] = {}

    def stations(self) -> list[str]:
        """Every registered station id (one ``<id>.pub`` each)."""
        try:
            names = [p.stem for p in self.keys_dir.glob("*.pub")]
        except OSError:
            return []
        return sorted(n for n in names if is_valid_id(n))

    def __call__(self, station_id: str) -> Ed25519PublicKey | None:
        if station_id in self._cache:
            return self._cache[station_id]
        if not is_valid_id(station_id):
            return None
        try:
            key = public_key_from_hex((self.keys_dir / f"{station_id}.pub").read_text(encoding="ascii"))
        except (OSError, ValueError):
            return None
        self._cache[station_id] = key
        return key


@dataclass(frozen=True)
class Outcome:
    """The ack to publish and what happened (for logs and tests)."""

    ack: dict[str, Any]
    stored: int = 0
    duplicates: int = 0

    @property
    def status(self) -> str:
        return str(self.ack["status"])


@dataclass
class Prepared:
    """A batch that passed the cheap checks, its first event's signature included.

    ``problems[i]`` is ``contract.chain.check_event``'s answer for event i (None when
    hash and signature are good). ``verify`` fills it *outside* the store's lock, only
    for events above the head central already held, so several workers verify in
    parallel and a deferred batch (a gap) costs nothing until it can be stored.
    """

    station: str
    batch: dict[str, Any]
    key: Ed25519PublicKey
    problems: list[str | None] | None = None
    seen_head: int | None = None  # the head ``gap_answer`` read (unlocked): what ``verify`` may skip

    @property
    def first_seq(self) -> int:
        return int(self.batch["first_seq"])

    @property
    def batch_id(self) -> str:
        return str(self.batch["batch_id"])


def prepare(store: Store, keys: KeyLookup, topic_station: str, payload: bytes,
            correlation: str | None = None, *, max_bytes: int = MAX_BATCH_BYTES) -> Prepared | Outcome:
    """The cheap checks, cheapest first; an Outcome (``rejected``) when the batch is refused whole.

    Size, then the station (registered?), then the batch's schema and shape, then
    the first event's hash and signature: most garbage is refused before any gap
    handling, lock or bulk verification.
    """
    batch_id = correlation if correlation is not None and UUID.match(correlation) else "unknown"
    if len(payload) > max_bytes:
        return _refuse_unparsed(store, topic_station, batch_id,
                                f"batch of {len(payload)} bytes is above the limit of {max_bytes}")
    key = keys(topic_station)
    if key is None:
        return _refuse_unparsed(store, topic_station, batch_id,
                                f"station {topic_station} is not registered (no public key)")
    try:
        batch = protocol.parse_json(payload, "batch.v1")
    except protocol.BadMessage as exc:
        return _refuse_unparsed(store, topic_station, batch_id, f"batch invalid: {exc}")
    batch_id = str(batch["batch_id"])
    problem = _shape_problem(batch, topic_station, 0, 1) or _first_signature(batch, key)
    problem = problem or _shape_problem(batch, topic_station, 1, len(batch["events"]))
    if problem is not None:
        return _refuse_unparsed(store, topic_station, batch_id, problem)
    return Prepared(topic_station, batch, key)


def verify(prepared: Prepared, held_through: int) -> None:
    """Check hash and signature of every event above ``held_through`` (outside any lock)."""
    events = prepared.batch["events"]  # event 0 was checked by ``prepare``
    prepared.problems = [None if i == 0 or int(ev["seq"]) <= held_through else check_event(ev, prepared.key)
                         for i, ev in enumerate(events)]


def gap_answer(store: Store, prepared: Prepared) -> Outcome | None:
    """``gap`` when the batch starts past head + 1 (an unlocked read), else None."""
    head = store.head(prepared.station)
    prepared.seen_head = head.last_seq
    if prepared.first_seq > head.last_seq + 1:
        return Outcome(protocol.make_ack(prepared.batch_id, "gap", head.last_seq))
    return None


def commit(store: Store, prepared: Prepared) -> Outcome:
    """The transaction: lock the station's head, compare, link, insert, move the head."""
    if prepared.problems is None:
        seen = prepared.seen_head
        verify(prepared, store.head(prepared.station).last_seq if seen is None else seen)
    with store.transaction():
        head = store.lock_head(prepared.station)
        return _apply(store, prepared, head)


def ingest(store: Store, keys: KeyLookup, topic_station: str, payload: bytes,
           correlation: str | None = None) -> Outcome:
    """Decide on and store one batch received on ``acceptance/v1/{topic_station}/events``."""
    prepared = prepare(store, keys, topic_station, payload, correlation)
    if isinstance(prepared, Outcome):
        return prepared
    return gap_answer(store, prepared) or commit(store, prepared)


def _shape_problem(batch: dict[str, Any], station: str, start: int, stop: int) -> str | None:
    """Shape of the batch (when ``start`` is 0) and of its events ``start``..``stop``-1."""
    events = batch["events"]
    if start == 0:
        if batch["station_id"] != station:
            return f"batch station_id {batch['station_id']} does not match topic station {station}"
        if batch["first_seq"] != events[0]["seq"] or batch["last_seq"] != events[-1]["seq"]:
            return "first_seq/last_seq do not match the events"
    for i in range(start, stop):
        ev = events[i]
        errs = schemas.errors("event.v1", ev, limit=2)
        if errs:
            return f"event {i} invalid: " + "; ".join(errs)
        if ev["seq"] != batch["first_seq"] + i:
            return f"events are not consecutive at index {i} (seq {ev['seq']})"
        if ev["station_id"] != station:
            return f"event seq {ev['seq']} belongs to station {ev['station_id']}"
    return None


def _first_signature(batch: dict[str, Any], key: Ed25519PublicKey) -> str | None:
    bad = check_event(batch["events"][0], key)
    return None if bad is None else f"seq {batch['first_seq']}: {bad}"


def _refuse_unparsed(store: Store, station: str, batch_id: str, error: str) -> Outcome:
    log.kv(logger, logging.WARNING, "batch rejected", station_id=station, batch_id=batch_id, error=error)
    with store.transaction():
        store.add_alert(station, None, "BATCH_INVALID", error)
        head = store.head(station)
    return Outcome(protocol.make_ack(batch_id, "rejected", head.last_seq, error))


def _apply(store: Store, prepared: Prepared, head: Head) -> Outcome:
    """The body of the transaction: compare with what is held, link the new, insert."""
    station, batch = prepared.station, prepared.batch
    batch_id = str(batch["batch_id"])
    events: list[dict[str, Any]] = batch["events"]
    if batch["first_seq"] > head.last_seq + 1:
        return Outcome(protocol.make_ack(batch_id, "gap", head.last_seq))
    held = (store.stored_hashes(station, batch["first_seq"], min(batch["last_seq"], head.last_seq))
            if batch["first_seq"] <= head.last_seq else {})  # nothing held to compare: no read
    new: list[tuple[dict[str, Any], str]] = []
    dups = 0
    last_hash = head.last_hash
    error: tuple[int, str, str] | None = None  # (seq, code, message)
    if prepared.problems is None:
        raise ValueError("verify() the batch before applying it")
    for ev, checked in zip(events, prepared.problems, strict=True):
        seq = int(ev["seq"])
        if seq <= head.last_seq:
            computed = event_hash(ev)
            if computed != ev["hash"]:
                error = (seq, "EVENT_ALTERED", f"seq {seq}: hash does not match the event's content")
                break
            if held.get(seq) != computed:
                error = (seq, "FORK", f"seq {seq}: fork: another event with this seq is already stored "
                                      f"(held {str(held.get(seq))[:16]}…, got {computed[:16]}…)")
                break
            dups += 1
            continue
        bad = checked
        if bad is None and ev["prev_hash"] != last_hash:
            bad = "prev_hash does not link to the previous event's hash"
        if bad is not None:
            code = "EVENT_ALTERED" if bad.startswith("hash mismatch") else "EVENT_INVALID"
            error = (seq, code, f"seq {seq}: {bad}")
            break
        new.append((ev, canonical_json(ev).decode("utf-8")))
        last_hash = ev["hash"]
    if new:
        store.insert_events(station, new)
        head = Head(int(new[-1][0]["seq"]), last_hash)
        store.set_head(station, head)
    if error is not None:
        seq, code, message = error
        store.add_alert(station, seq, code, message, detail=json.dumps({"batch_id": batch_id}))
        log.kv(logger, logging.WARNING, "batch rejected", station_id=station, batch_id=batch_id,
               code=code, error=message, stored=len(new))
        return Outcome(protocol.make_ack(batch_id, "rejected", head.last_seq, message), len(new), dups)
    status = "stored" if new else "duplicate"
    return Outcome(protocol.make_ack(batch_id, status, head.last_seq), len(new), dups)
