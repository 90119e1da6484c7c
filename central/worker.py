"""One central ingest worker: the MQTT adapter around ``ingest``.

Subscribes, for each registered station, to the shared subscriptions
``$share/ingest/acceptance/v1/{s}/events`` and ``/status`` (the broker spreads
batches over the workers of the group; ``central.subscriptions``). Each batch
is decided and committed before its ack is published to the ack topic with the
batch's correlation data. If the worker dies between commit and ack, the
station's ack timeout resends and the answer is ``duplicate``: nothing is
stored twice, because ``(station_id, seq)`` is the primary key and each
station's head row is locked for the transaction.

Nothing blocks in the message callback: a station over its budget
(``central.limits``) is dropped before parsing, the cheap refusals of
``central.ingest.prepare`` come first, a batch that arrives before its
predecessor (two workers, one station) is deferred and retried from the loop
for up to ``gap_wait_ms`` instead of sleeping, and a failed store is reopened
from the loop.

A worker dies with its supervisor: ``core.process.die_with_parent`` asks the
kernel for SIGTERM when the parent goes (``PR_SET_PDEATHSIG``), first thing in
the worker process, so a ``kill -9`` of the supervisor alone leaves no orphan
holding a broker session. Its MQTT client id
is new on every start (``<prefix>-<n>-<random>``): a restarted worker never
takes over, or is taken over by, a live session of the same name. Every
``heartbeat_s`` it writes one JSON line (connected, store, batches) to its
supervisor's pipe; a broken pipe means the supervisor is gone, and it stops.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

import paho.mqtt.client as mqtt

from central.config import CentralConfig
from central.fleet import store as fleet_store
from central.ingest import KeyRegistry, Outcome, Prepared, commit, gap_answer, prepare
from central.limits import StationLimits
from central.store import Store
from central.subscriptions import StationSubscriptions
from contract import protocol
from contract.mqtt import Link, make_client, publish_props
from core import log

logger = logging.getLogger("central")
MAX_DEFERRED_PER_STATION = 8  # a station's window is a few batches; more is not an honest race
MAX_DEFERRED = 256


def client_id(prefix: str, index: int) -> str:
    """A worker's MQTT client id, unique per start."""
    return f"{prefix}-{index}-{secrets.token_hex(3)}"


@dataclass
class Deferred:
    """A batch that arrived before its predecessor: retried until ``deadline``, then a gap."""

    prepared: Prepared
    correlation: bytes | None
    deadline: float


class Worker:
    def __init__(self, cfg: CentralConfig, index: int, *, beat_to: TextIO | None = None) -> None:
        self.cfg = cfg
        ing = cfg.ingest
        self.index = index
        self.store = Store(cfg.store.dsn)
        fleet_store.ensure(self.store)
        self.store_error: str | None = None  # set while the store is failing; reopened from the loop
        self.next_store_try = 0.0
        self.keys = KeyRegistry(cfg.registry.keys_dir)
        self.limits = StationLimits(ing.station_batches_per_s, ing.station_burst, ing.station_bad_per_s,
                                    ing.station_bad_burst, quarantine_after=ing.quarantine_after_drops,
                                    quarantine_s=ing.quarantine_s)
        self.deferred: list[Deferred] = []
        self.client_id = client_id(ing.client_id_prefix, index)
        self.client = make_client(cfg.broker, self.client_id)
        self.client.on_message = self._on_message
        self.subs = StationSubscriptions(self.client, self.keys.stations, self.limits.quarantined)
        self.link = Link(self.client, cfg.broker, backoff_min_s=ing.backoff_min_s,
                         backoff_max_s=ing.backoff_max_s, on_up=self.subs.reset)
        self.batches = 0
        self.beat_to = beat_to
        self.next_beat = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.link.pump(0.01 if self.deferred else 0.1)
            self._retry_deferred()
            self._police()
            self._heal_store()
            if not self._beat():
                log.kv(logger, logging.WARNING, "supervisor gone; stopping", index=self.index)
                break
        self.link.close()
        self.store.close()

    def beat_doc(self) -> dict[str, Any]:
        return {"index": self.index, "pid": os.getpid(), "client_id": self.client_id,
                "connected": self.link.connected, "broker_error": self.link.last_error,
                "store_ok": self.store_error is None, "store_error": self.store_error,
                "batches": self.batches}

    def _beat(self) -> bool:
        """Report to the supervisor when due; False when it can no longer be told."""
        now = time.monotonic()
        if self.beat_to is None or now < self.next_beat:
            return True
        self.next_beat = now + self.cfg.ingest.heartbeat_s
        try:
            self.beat_to.write(json.dumps(self.beat_doc()) + "\n")
            self.beat_to.flush()
        except (OSError, ValueError):
            return False
        return True

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """Never blocks: cheap refusals first, a gap is deferred, a store outage drops (no ack)."""
        station = protocol.station_of(msg.topic)
        if station is None or self.store_error is not None:
            return
        try:
            if msg.topic.endswith("/events"):
                self._batch(station, msg)
            elif msg.topic.endswith("/status") and msg.payload:
                self._status(station, bytes(msg.payload))
        except Exception as exc:  # a store outage: no ack, the station resends later
            self._store_failed(exc, msg.topic)

    def _status(self, station: str, payload: bytes) -> None:
        if len(payload) > self.cfg.ingest.max_batch_bytes or not self.limits.admit(station):
            return
        try:
            doc = protocol.parse_json(payload, "status.v1")
        except protocol.BadMessage as exc:
            log.kv(logger, logging.WARNING, "bad status ignored", station_id=station, error=str(exc))
            return
        if doc["station_id"] == station:  # with the fleet's presence row (docs/fleet.md)
            fleet_store.record_status(self.store, station, doc, payload.decode("utf-8"))

    def _store_failed(self, exc: Exception, where: str) -> None:
        self.store_error = f"{exc.__class__.__name__}: {exc}"[:300]
        log.kv(logger, logging.ERROR, "message not processed", topic=where, error=self.store_error)
        with contextlib.suppress(Exception):  # already broken; a fresh connection is what matters
            self.store.close()

    def _heal_store(self) -> None:
        """Reopen a failed store from the loop, once a second, never inside a callback."""
        now = time.monotonic()
        if self.store_error is None or now < self.next_store_try:
            return
        try:
            self.store = Store(self.cfg.store.dsn)
            fleet_store.ensure(self.store)
            self.store_error = None
        except Exception as exc:
            log.kv(logger, logging.ERROR, "store unavailable", error=repr(exc))
            self.next_store_try = now + 1.0

    def _batch(self, station: str, msg: mqtt.MQTTMessage) -> None:
        if not self.limits.admit(station):
            return
        props = getattr(msg, "properties", None)
        corr_raw = getattr(props, "CorrelationData", None)
        corr = corr_raw if isinstance(corr_raw, bytes) else None
        prepared = prepare(self.store, self.keys, station, bytes(msg.payload),
                           None if corr is None else corr.decode("utf-8", "replace"),
                           max_bytes=self.cfg.ingest.max_batch_bytes)
        if isinstance(prepared, Outcome):
            self._answer(station, corr, prepared)
            return
        gap = gap_answer(self.store, prepared)
        if gap is not None and self._defer(prepared, corr):
            return
        self._answer(station, corr, gap or commit(self.store, prepared))

    def _defer(self, prepared: Prepared, corr: bytes | None) -> bool:
        """Give a peer worker holding the preceding batch ``gap_wait_ms`` to commit it."""
        same = sum(1 for d in self.deferred if d.prepared.station == prepared.station)
        if (self.cfg.ingest.gap_wait_ms == 0 or same >= MAX_DEFERRED_PER_STATION
                or len(self.deferred) >= MAX_DEFERRED):
            return False
        self.deferred.append(Deferred(prepared, corr,
                                      time.monotonic() + self.cfg.ingest.gap_wait_ms / 1000))
        return True

    def _retry_deferred(self) -> None:
        if not self.deferred or self.store_error is not None:
            return
        now, waiting = time.monotonic(), self.deferred
        self.deferred = []
        for i, d in enumerate(waiting):
            try:
                gap = gap_answer(self.store, d.prepared)
                if gap is None or now >= d.deadline:
                    self._answer(d.prepared.station, d.correlation, gap or commit(self.store, d.prepared))
                else:
                    self.deferred.append(d)
            except Exception as exc:
                self._store_failed(exc, protocol.topic(d.prepared.station, "events"))
                self.deferred += waiting[i:]
                return

    def _answer(self, station: str, corr: bytes | None, outcome: Outcome) -> None:
        if outcome.status == "rejected":  # a gap is normal with several workers: not penalised
            self.limits.penalise(station)
        self.batches += 1
        ack_topic = protocol.topic(station, "acks")  # never a station-chosen topic
        self.client.publish(ack_topic, protocol.dumps(outcome.ack), qos=1,
                            properties=publish_props(None, corr or outcome.ack["batch_id"].encode()))
        log.kv(logger, logging.DEBUG, "batch answered", station_id=station, status=outcome.status,
               stored=outcome.stored, through=outcome.ack["stored_through_seq"])

    def _police(self) -> None:
        """Quarantine flooding stations (unsubscribe them), report drops, follow the registry."""
        for station, seconds, drops in self.limits.to_quarantine():
            log.kv(logger, logging.ERROR, "station quarantined: unsubscribed", station_id=station,
                   seconds=seconds, dropped=drops)
            if self.store_error is None:
                with contextlib.suppress(Exception), self.store.transaction():
                    self.store.add_alert(station, None, "STATION_QUARANTINED",
                                         f"{drops} batches over its budget; unsubscribed for {seconds:.0f} s")
            self.subs.next_refresh = 0.0
        for station, n in self.limits.drops_to_report():
            log.kv(logger, logging.WARNING, "batches dropped: station over its budget", station_id=station,
                   dropped=n)
        if self.link.connected:
            self.subs.refresh()


def run_worker(cfg: CentralConfig, index: int, stop: threading.Event, *,
               supervised: bool = False) -> None:
    """One worker process; under a supervisor it beats on stdout (the supervisor's pipe).

    The caller has already made it die with its supervisor (``core.process``).
    """
    Worker(cfg, index, beat_to=sys.stdout if supervised else None).run(stop)
