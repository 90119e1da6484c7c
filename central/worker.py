"""One central ingest worker: the MQTT adapter around ``ingest``.

Subscribes to the shared subscription ``$share/ingest/acceptance/v1/+/events``
(the broker spreads batches over the workers of the group) and to stations'
status messages. Each batch is decided and committed before its ack is
published to the ack topic with the batch's correlation data. If the worker
dies between commit and ack, the station's ack timeout resends and the answer
is ``duplicate``: nothing is stored twice, because ``(station_id, seq)`` is the
primary key and each station's head row is locked for the transaction.

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
from typing import Any, TextIO

import paho.mqtt.client as mqtt

from central.config import CentralConfig
from central.ingest import KeyRegistry, Outcome, commit, prepare
from central.store import Store
from contract import protocol
from contract.mqtt import Link, make_client, publish_props
from core import log

logger = logging.getLogger("central")
SHARED_STATUS = "$share/ingest/acceptance/v1/+/status"


def client_id(prefix: str, index: int) -> str:
    """A worker's MQTT client id, unique per start."""
    return f"{prefix}-{index}-{secrets.token_hex(3)}"


class Worker:
    def __init__(self, cfg: CentralConfig, index: int, *, beat_to: TextIO | None = None) -> None:
        self.cfg = cfg
        self.index = index
        self.store = Store(cfg.store.dsn)
        self.store_error: str | None = None
        self.keys = KeyRegistry(cfg.registry.keys_dir)
        self.client_id = client_id(cfg.ingest.client_id_prefix, index)
        self.client = make_client(cfg.broker, self.client_id)
        self.client.on_message = self._on_message
        self.link = Link(self.client, cfg.broker, backoff_min_s=cfg.ingest.backoff_min_s,
                         backoff_max_s=cfg.ingest.backoff_max_s, on_up=self._on_up)
        self.batches = 0
        self.beat_to = beat_to
        self.next_beat = 0.0

    def _on_up(self) -> None:
        self.client.subscribe(protocol.SHARED_EVENTS, qos=1)
        self.client.subscribe(SHARED_STATUS, qos=1)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.link.pump(0.1)
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
        station = protocol.station_of(msg.topic)
        if station is None:
            return
        try:
            if msg.topic.endswith("/events"):
                self._batch(station, msg)
            elif msg.topic.endswith("/status") and msg.payload:
                self._status(station, bytes(msg.payload))
            self.store_error = None
        except Exception as exc:  # a store outage: no ack, the station resends later
            self.store_error = f"{exc.__class__.__name__}: {exc}"[:300]
            log.kv(logger, logging.ERROR, "message not processed", topic=msg.topic,
                   error=self.store_error)
            self._reopen_store()

    def _status(self, station: str, payload: bytes) -> None:
        try:
            doc = protocol.parse_json(payload, "status.v1")
        except protocol.BadMessage as exc:
            log.kv(logger, logging.WARNING, "bad status ignored", station_id=station, error=str(exc))
            return
        if doc["station_id"] == station:
            self.store.save_status(station, payload.decode("utf-8"))

    def _reopen_store(self) -> None:
        with contextlib.suppress(Exception):  # already broken; a fresh connection is what matters
            self.store.close()
        try:
            self.store = Store(self.cfg.store.dsn)
        except Exception as exc:
            log.kv(logger, logging.ERROR, "store unavailable", error=repr(exc))
            time.sleep(1.0)

    def _batch(self, station: str, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        corr_raw = getattr(props, "CorrelationData", None)
        corr = corr_raw.decode("utf-8", "replace") if isinstance(corr_raw, bytes) else None
        outcome = self._ingest_waiting(station, bytes(msg.payload), corr)
        self.batches += 1
        ack_topic = protocol.topic(station, "acks")  # never a station-chosen topic
        self.client.publish(ack_topic, protocol.dumps(outcome.ack), qos=1,
                            properties=publish_props(None, corr_raw if isinstance(corr_raw, bytes)
                                                     else outcome.ack["batch_id"].encode()))
        log.kv(logger, logging.DEBUG, "batch answered", station_id=station, status=outcome.status,
               stored=outcome.stored, through=outcome.ack["stored_through_seq"])

    def _ingest_waiting(self, station: str, payload: bytes, corr: str | None) -> Outcome:
        """Ingest; on a gap, give a peer worker holding the preceding batch a moment to commit.

        Verification happens once, outside the lock; only the transaction is retried.
        """
        prepared = prepare(self.store, self.keys, station, payload, corr)
        if isinstance(prepared, Outcome):
            return prepared
        deadline = time.monotonic() + self.cfg.ingest.gap_wait_ms / 1000
        while True:
            outcome = commit(self.store, prepared)
            if outcome.status != "gap" or time.monotonic() >= deadline:
                return outcome
            time.sleep(0.01)


def run_worker(cfg: CentralConfig, index: int, stop: threading.Event, *,
               supervised: bool = False) -> None:
    """One worker process; under a supervisor it beats on stdout (the supervisor's pipe).

    The caller has already made it die with its supervisor (``core.process``).
    """
    Worker(cfg, index, beat_to=sys.stdout if supervised else None).run(stop)
