"""Central's ingest decision and store, on SQLite and on the real PostgreSQL server.

Every test runs twice (``store`` is parametrised); PostgreSQL being unreachable
is a failure, not a skip: CI runs the server as a service.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.ingest import KeyRegistry, ingest
from central.store import Store
from contract import protocol
from contract.chain import GENESIS_HASH, seal, verify_chain
from edge.journal import Journal
from tests.sync_harness import append_events, make_station

STATION = "st-test-01"


@pytest.fixture
def store(dsn: str) -> Iterator[Store]:
    s = Store(dsn)
    yield s
    s.close()


@pytest.fixture
def station(tmp_path: Path) -> Iterator[tuple[Journal, KeyRegistry]]:
    keys_dir = tmp_path / "keys"
    j = make_station(tmp_path, STATION, keys_dir)
    append_events(j, 30)
    yield j, KeyRegistry(keys_dir)
    j.close()


def rows(j: Journal, first: int, last: int) -> list[tuple[int, str]]:
    return [(int(s), str(t)) for s, t in j.db.execute(
        "SELECT seq, event FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq", (first, last))]


def batch(j: Journal, first: int, last: int) -> bytes:
    b = next(protocol.frame_batches(rows(j, first, last), STATION, "2026-11-28T06:00:00.000Z",
                                    max_events=10_000, max_bytes=10**8))
    return b.payload


def doc_batch(events: list[dict[str, Any]]) -> bytes:
    return protocol.dumps({"schema": protocol.BATCH_SCHEMA, "batch_id": str(uuid.uuid4()),
                           "station_id": STATION, "first_seq": events[0]["seq"],
                           "last_seq": events[-1]["seq"], "sent_at": "2026-11-28T06:00:00.000Z",
                           "events": events})


def events_of(j: Journal, first: int, last: int) -> list[dict[str, Any]]:
    return [json.loads(t) for _, t in rows(j, first, last)]


def test_batches_are_stored_in_order_and_the_chain_verifies(store: Store, station: Any) -> None:
    j, keys = station
    for first, last in ((1, 10), (11, 25), (26, 30)):
        out = ingest(store, keys, STATION, batch(j, first, last))
        assert out.status == "stored" and out.stored == last - first + 1
        assert out.ack["stored_through_seq"] == last and out.ack["expected_seq"] == last + 1
        assert protocol.schemas.errors("ack.v1", out.ack) == []
    assert store.seqs(STATION) == list(range(1, 31))
    pub = keys(STATION)
    assert isinstance(pub, Ed25519PublicKey)
    assert list(verify_chain([json.loads(t) for t in store.event_texts(STATION)], pub)) == []
    assert store.alerts(STATION) == []


def test_repeat_is_duplicate_and_overlap_stores_only_the_new(store: Store, station: Any) -> None:
    j, keys = station
    assert ingest(store, keys, STATION, batch(j, 1, 10)).status == "stored"
    again = ingest(store, keys, STATION, batch(j, 1, 10))
    assert again.status == "duplicate" and again.duplicates == 10 and again.ack["stored_through_seq"] == 10
    overlap = ingest(store, keys, STATION, batch(j, 5, 20))
    assert overlap.status == "stored" and overlap.stored == 10 and overlap.duplicates == 6
    assert store.seqs(STATION) == list(range(1, 21))


def test_gap_is_answered_with_expected_seq_and_stores_nothing(store: Store, station: Any) -> None:
    j, keys = station
    ingest(store, keys, STATION, batch(j, 1, 10))
    out = ingest(store, keys, STATION, batch(j, 15, 20))
    assert out.status == "gap" and out.ack["expected_seq"] == 11 and out.ack["stored_through_seq"] == 10
    assert store.seqs(STATION) == list(range(1, 11))
    first = ingest(store, keys, "st-empty-01", b"{}")
    assert first.status == "rejected"  # not even a batch


def test_fork_is_refused_with_an_alert(store: Store, station: Any, tmp_path: Path) -> None:
    j, keys = station
    ingest(store, keys, STATION, batch(j, 1, 10))
    # The same station key signs a different seq 5 (a restored backup that went on recording).
    forked = copy.deepcopy(events_of(j, 5, 5)[0])
    forked["body"] = {"i": 999, "note": "another history"}
    forked = seal({k: v for k, v in forked.items() if k not in ("hash", "sig")}, j.key)
    out = ingest(store, keys, STATION, doc_batch([forked]))
    assert out.status == "rejected" and "fork" in out.ack["error"]
    assert [a[2] for a in store.alerts(STATION)] == ["FORK"]
    assert store.seqs(STATION) == list(range(1, 11))


def test_altered_body_is_refused_with_an_alert_and_the_prefix_kept(store: Store, station: Any) -> None:
    j, keys = station
    evs = events_of(j, 1, 6)
    evs[3]["body"]["i"] = 12345  # altered after signing
    out = ingest(store, keys, STATION, doc_batch(evs))
    assert out.status == "rejected" and "seq 4" in out.ack["error"] and "hash" in out.ack["error"]
    assert out.ack["stored_through_seq"] == 3  # the verified prefix is kept
    alerts = store.alerts(STATION)
    assert [(a[1], a[2]) for a in alerts] == [(4, "EVENT_ALTERED")]
    assert store.seqs(STATION) == [1, 2, 3]


def test_forged_signature_and_broken_link_are_refused(store: Store, station: Any) -> None:
    j, keys = station
    other = Ed25519PrivateKey.generate()
    ev = events_of(j, 1, 1)[0]
    forged = seal({k: v for k, v in ev.items() if k not in ("hash", "sig")}, other)
    out = ingest(store, keys, STATION, doc_batch([forged]))
    assert out.status == "rejected" and "signature" in out.ack["error"]
    unlinked = {k: v for k, v in events_of(j, 1, 1)[0].items() if k not in ("hash", "sig")}
    unlinked["prev_hash"] = "1" * 64
    out = ingest(store, keys, STATION, doc_batch([seal(unlinked, j.key)]))
    assert out.status == "rejected" and "prev_hash" in out.ack["error"]
    assert store.seqs(STATION) == []
    assert store.head(STATION).last_hash == GENESIS_HASH


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.pop("events"), "events"),
    (lambda d: d.update(station_id="st-other-01"), "does not match"),
    (lambda d: d["events"].reverse(), "first_seq"),
    (lambda d: d["events"][0].pop("sig"), "sig"),
    (lambda d: d["events"][1].update(station_id="st-other-01"), "belongs to"),
])
def test_malformed_batches_are_rejected_with_a_reason(store: Store, station: Any, mutate: Any,
                                                      needle: str) -> None:
    j, keys = station
    doc = json.loads(batch(j, 1, 3))
    mutate(doc)
    out = ingest(store, keys, STATION, protocol.dumps(doc), "corr-1")
    assert out.status == "rejected" and needle in out.ack["error"]
    assert store.seqs(STATION) == [] and store.alerts(STATION)[0][2] == "BATCH_INVALID"


def test_unregistered_station_is_rejected(store: Store, station: Any, tmp_path: Path) -> None:
    j, _ = station
    out = ingest(store, KeyRegistry(tmp_path / "empty"), STATION, batch(j, 1, 3))
    assert out.status == "rejected" and "not registered" in out.ack["error"]


def test_concurrent_workers_store_each_event_once(dsn: str, station: Any) -> None:
    """Four connections race the same overlapping batches: every seq stored exactly once."""
    j, keys = station
    payloads = [batch(j, a, b) for a, b in ((1, 10), (1, 20), (11, 30), (5, 30), (21, 30))]
    answers: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            s = Store(dsn)
            for _ in range(3):
                for p in payloads:
                    answers.append(ingest(s, keys, STATION, p).status)
            s.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    s = Store(dsn)
    assert s.seqs(STATION) == list(range(1, 31))
    assert s.alerts(STATION) == []
    assert set(answers) <= {"stored", "duplicate", "gap"} and "stored" in answers
    s.close()


@given(payload=st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                 lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                 max_leaves=12).map(lambda d: json.dumps(d).encode()),
))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
def test_garbage_is_answered_rejected_and_changes_no_events(tmp_path: Path, payload: bytes) -> None:
    s = Store(f"sqlite:///{tmp_path / 'fuzz.db'}")
    try:
        out = ingest(s, KeyRegistry(tmp_path / "nokeys"), STATION, payload, "corr")
        assert out.status == "rejected"
        assert protocol.schemas.errors("ack.v1", out.ack) == []
        assert s.seqs(STATION) == []
    finally:
        s.close()
