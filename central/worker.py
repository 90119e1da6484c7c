"""One central ingest worker: the MQTT adapter around ``ingest``.

Subscribes to the shared subscription ``$share/ingest/acceptance/v1/+/events``
(the broker spreads batches over the workers of the group) and to stations'
status messages. Each batch is decided and committed before its ack is
published to the ack topic with the batch's correlation data. If the worker
dies between commit and ack, the station's ack timeout resends and the answer
is ``duplicate``: nothing is stored twice, because ``(station_id, seq)`` is the
primary key and each station's head row is locked for the transaction.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from central.config import CentralConfig
from central.ingest import KeyRegistry, Outcome, commit, prepare
from central.store import Store
from contract import protocol
from contract.mqtt import Link, make_client, publish_props
from core import log

logger = logging.getLogger("central")
SHARED_STATUS = "$share/ingest/acceptance/v1/+/status"


class Worker:
    def __init__(self, cfg: CentralConfig, index: int) -> None:
        self.cfg = cfg
        self.store = Store(cfg.store.dsn)
        self.keys = KeyRegistry(cfg.registry.keys_dir)
        self.client = make_client(cfg.broker, f"{cfg.ingest.client_id_prefix}-{index}")
        self.client.on_message = self._on_message
        self.link = Link(self.client, cfg.broker, backoff_min_s=0.5, backoff_max_s=30.0, on_up=self._on_up)
        self.batches = 0

    def _on_up(self) -> None:
        self.client.subscribe(protocol.SHARED_EVENTS, qos=1)
        self.client.subscribe(SHARED_STATUS, qos=1)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.link.pump(0.1)
        self.link.close()
        self.store.close()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        station = protocol.station_of(msg.topic)
        if station is None:
            return
        try:
            if msg.topic.endswith("/events"):
                self._batch(station, msg)
            elif msg.topic.endswith("/status") and msg.payload:
                self._status(station, bytes(msg.payload))
        except Exception as exc:  # a store outage: no ack, the station resends later
            log.kv(logger, logging.ERROR, "message not processed", topic=msg.topic,
                   error=f"{exc.__class__.__name__}: {exc}")
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


def run_worker(cfg: CentralConfig, index: int, stop: threading.Event) -> None:
    Worker(cfg, index).run(stop)
