"""The uplink's answer handling (no broker needed) and its bounded window (real broker)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from app.config import load_config
from app.sync_cli import build_uplink
from contract import protocol
from edge.journal import Journal
from sync import state
from sync.uplink import InFlight, Uplink
from tests.sync_harness import Broker, InThread, append_events, make_station, station_config
from tests.waiting import wait_until

SID = "st-aaa"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Journal, Uplink]]:
    j = make_station(tmp_path, SID, tmp_path / "keys")
    append_events(j, 100)
    b = Broker(tmp_path)  # never started: these tests drive the uplink's handlers directly
    up = build_uplink(load_config(station_config(tmp_path, SID, b)))
    yield j, up
    j.close()


def _fly(up: Uplink, *ranges: tuple[int, int]) -> list[str]:
    ids = []
    for i, (a, b) in enumerate(ranges):
        bid = f"b{i}"
        up.inflight[bid] = InFlight(bid, a, b, time.monotonic(), 100 + i)
        up.by_mid[100 + i] = bid
        ids.append(bid)
    up.next_seq = ranges[-1][1] + 1
    return ids


def test_stored_moves_the_cursor_durably_never_past_the_journal(setup: tuple[Journal, Uplink]) -> None:
    j, up = setup
    b0, b1 = _fly(up, (1, 10), (11, 20))
    up.on_ack(protocol.make_ack(b0, "stored", 10))
    assert up.cursor == 10 and state.get_cursor(j.db, SID) == 10 and list(up.inflight) == [b1]
    up.on_ack(protocol.make_ack("someone-elses", "duplicate", 10_000))  # central ahead of us
    assert up.cursor == 100  # bounded by the local journal
    assert up.inflight == {} and up.next_seq == 101


def test_gap_resumes_from_expected_or_resends_the_gapped_batch(setup: tuple[Journal, Uplink]) -> None:
    _, up = setup
    b0, b1, _ = _fly(up, (1, 10), (11, 20), (21, 30))
    # b1 reached another worker before b0 was committed: 1 is still in flight, resend b1 only.
    up.on_ack(protocol.make_ack(b1, "gap", 0))
    assert up.next_seq == 11 and set(up.inflight) == {b0}
    assert up.cursor == 0  # a gap never moves the cursor
    # b0 unanswered for long while b2 is answered: the worker holding b0 died; resend from b0.
    b0, b1, b2 = _fly(up, (1, 10), (11, 20), (21, 30))
    up.inflight[b0] = InFlight(b0, 1, 10, time.monotonic() - 5, 100)
    up.on_ack(protocol.make_ack(b2, "gap", 0))
    assert up.next_seq == 1 and up.inflight == {}
    # Central lost data: expected 5 is in no batch in flight.
    up.inflight.clear()
    _, b1, _ = _fly(up, (41, 50), (51, 60), (61, 70))
    up.on_ack(protocol.make_ack(b1, "gap", 4))
    assert up.next_seq == 5 and up.inflight == {}


def test_rejected_is_an_alert_state_and_pauses(setup: tuple[Journal, Uplink]) -> None:
    j, up = setup
    (b0,) = _fly(up, (1, 10))
    up.on_ack(protocol.make_ack(b0, "rejected", 0, "seq 4: hash mismatch"))
    assert up.uplink_state == "rejected" and up.error == "seq 4: hash mismatch"
    assert up.paused_until > time.monotonic() + 1 and up.next_seq == 1 and up.cursor == 0
    shown = state.get_state(j.db)
    assert shown["uplink"]["state"] == "rejected" and shown["last_rejection"]["last_seq"] == 10
    doc = up.status_doc(True)
    assert protocol.schemas.errors("status.v1", doc) == []
    assert doc["uplink"] == {"state": "rejected", "error": "seq 4: hash mismatch"}
    assert doc["backlog"]["events"] == 100
    (b1,) = _fly(up, (1, 10))
    up.on_ack(protocol.make_ack(b1, "stored", 10))
    assert up.uplink_state == "ok"


def test_resend_from_lowers_the_cursor(setup: tuple[Journal, Uplink]) -> None:
    j, up = setup
    (b0,) = _fly(up, (1, 50))
    up.on_ack(protocol.make_ack(b0, "stored", 50))
    up.on_command({"schema": protocol.COMMAND_SCHEMA, "command_id": "x", "command": "resend_from", "seq": 21})
    assert up.cursor == 20 and up.next_seq == 21 and state.get_cursor(j.db, SID) == 20


def _spy(broker: Broker, seen: list[tuple[float, dict[str, Any]]], *, ack_first: bool) -> mqtt.Client:
    """A subscriber in central's place that records batches (and acks only the first, if asked)."""
    spy = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="spy", protocol=MQTTProtocolVersion.MQTTv5)

    def on_message(c: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
        doc = json.loads(m.payload)
        seen.append((time.monotonic(), doc))
        if ack_first and len(seen) == 1:
            c.publish(protocol.topic(SID, "acks"),
                      protocol.dumps(protocol.make_ack(doc["batch_id"], "stored", doc["last_seq"])), qos=1)

    subscribed: list[bool] = []
    spy.on_message = on_message
    spy.on_subscribe = lambda c, u, mid, rcs, p: subscribed.append(True)
    spy.connect("127.0.0.1", broker.port)
    spy.subscribe(protocol.topic(SID, "events"), qos=1)
    spy.loop_start()
    wait_until(lambda: subscribed, 10, "the spy's SUBACK")
    return spy


def test_window_is_bounded_and_unanswered_batches_are_resent(tmp_path: Path) -> None:
    """A one-event probe first; once acked, exactly max_in_flight batches, then the same again after
    the ack timeout, and later after twice that (no ack in between)."""
    broker = Broker(tmp_path)
    broker.start()
    j = make_station(tmp_path, SID, tmp_path / "keys")
    append_events(j, 100)
    seen: list[tuple[float, dict[str, Any]]] = []
    spy = _spy(broker, seen, ack_first=True)
    up = InThread(build_uplink(load_config(station_config(tmp_path, SID, broker, batch_max_events=10,
                                                    max_in_flight=2, ack_timeout_s=1.5))))
    try:
        wait_until(lambda: len(seen) >= 3, 10, "the probe and the first window")
        time.sleep(1.0)
        assert [(d["first_seq"], d["last_seq"]) for _, d in seen] == [(1, 1), (2, 11), (12, 21)]
        assert len(up.target.inflight) == 2 and up.target.cursor == 1
        wait_until(lambda: len(seen) >= 5, 10, "the resend after the ack timeout")
        assert [d["first_seq"] for _, d in seen[3:5]] == [2, 12] and seen[3][0] - seen[1][0] >= 1.4
        wait_until(lambda: len(seen) >= 7, 10, "the second resend")
        assert seen[5][0] - seen[3][0] >= 2.9  # doubled: no ack in between
        assert up.target.counters["timeouts"] >= 2 and up.target.cursor == 1
    finally:
        up.close()
        spy.loop_stop()
        broker.kill()
        j.close()


def test_no_subscribers_means_resend_soon_not_a_whole_ack_timeout(tmp_path: Path) -> None:
    """With nobody subscribed the broker answers PUBACK 0x10: the uplink probes again within
    seconds (one event at a time), and catches up as soon as central subscribes."""
    broker = Broker(tmp_path)
    broker.start()
    j = make_station(tmp_path, SID, tmp_path / "keys")
    append_events(j, 1000)
    up = InThread(build_uplink(load_config(station_config(tmp_path, SID, broker, ack_timeout_s=60.0,
                                                          resend_soon_s=0.3))))
    try:
        wait_until(lambda: up.target.counters["no_subscribers"] >= 3, 10, "0x10 answers, resent soon")
        assert up.target.counters["timeouts"] == 0 and up.target.probing
        assert up.target.counters["batches_sent"] <= up.target.counters["no_subscribers"] + 1
        seen: list[tuple[float, dict[str, Any]]] = []
        spy = _spy(broker, seen, ack_first=True)  # central is back (here: acks the first batch)
        t0 = time.monotonic()
        wait_until(lambda: up.target.cursor >= 1, 5, "the probe acked")
        print(f"acked {time.monotonic() - t0:.2f} s after a subscriber appeared")
        wait_until(lambda: len(seen) >= 5, 5, "the window open again")
        assert max(d["last_seq"] - d["first_seq"] + 1 for _, d in seen) == 200
        spy.loop_stop()
    finally:
        up.close()
        broker.kill()
        j.close()
