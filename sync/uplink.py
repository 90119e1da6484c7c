"""The station's uplink: publish the journal to central until central says it is stored.

One thread owns everything (the paho client via ``Link.pump``, the window of
batches in flight, the cursor); callbacks run inside ``pump`` in that thread.
The rules (docs/contract.md §4):

- batches go out in seq order from ``next_seq`` (initially cursor + 1), at
  most ``max_in_flight`` unanswered at once;
- only a ``stored``/``duplicate`` ack moves the cursor (to central's
  ``stored_through_seq``, never beyond the local journal); a broker PUBACK
  only tells that the broker took the message, and a PUBACK with a failure
  reason code (e.g. 0x87 not authorized) puts the uplink in the ``refused``
  state and pauses it;
- ``gap`` resumes from ``expected_seq`` (or, when that seq is still in
  flight in an earlier batch, from the gapped batch itself; from that earlier
  batch when it has been unanswered for over 2 x ``resend_soon_s``: a worker
  that died with it in hand lost it);
- ``rejected`` puts the uplink in the ``rejected`` alert state (status topic,
  ``sync_state``) and retries after ``rejected_retry_s``;
- no ack within ``ack_timeout_s`` (doubled per timeout in a row without an
  ack, up to 8x), or a lost connection: go back to cursor + 1;
- "resend soon": after a (re)connect, and when the broker answers a batch with
  PUBACK 0x10 (no matching subscribers: central's workers are not subscribed,
  so whatever is in flight is lost), go back to cursor + 1 after a short
  jittered delay (``resend_soon_s``) and send one single-event probe batch
  first; the window opens again with its ack. The probe keeps a central
  outage from costing whole windows of republished batches.
"""

from __future__ import annotations

import logging
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from contract import protocol
from contract.mqtt import Link, make_client, publish_props
from core import __version__, log
from core.clock import Clock, now_rfc3339
from core.db import connect
from sync import state
from sync.config import UplinkHost

logger = logging.getLogger("sync.uplink")
NO_MATCHING_SUBSCRIBERS = 0x10
PACKET_OVERHEAD = 1024  # MQTT header, topic, response topic, correlation data: well under this
LINK_BEAT_S = 1.0  # how often the link fact is refreshed while nothing changes


@dataclass
class InFlight:
    batch_id: str
    first: int
    last: int
    sent_at: float
    mid: int


class JournalSource(Protocol):
    """Read access to the station's journal (``edge.journal.JournalReader``), given by the app."""

    def last_seq(self) -> int: ...
    def rows_from(self, from_seq: int, limit: int) -> list[tuple[int, str]]: ...


class Uplink:
    """Publishes one station's journal; ``run`` until ``stop`` is set.

    ``journal`` reads the events; ``devices`` gives the station's device states
    for the status message. Both come from the application, so the uplink never
    reads the station's tables itself.
    """

    def __init__(self, cfg: UplinkHost, journal: JournalSource, *,
                 devices: Callable[[], dict[str, str]] = dict,
                 orders_trigger: threading.Event | None = None,
                 status_extra: Callable[[], dict[str, Any]] = dict,
                 on_diagnose: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.cfg = cfg
        self.journal = journal
        self.devices = devices
        self.status_extra = status_extra  # the app's: device ok flags, release, last update
        self.on_diagnose = on_diagnose  # the app's doctor + support bundle (runs in its own thread)
        self.session = ""  # new per connection attempt: names the will that ends it (docs/fleet.md)
        self.up = cfg.uplink
        self.station_id = cfg.station.station_id
        self.db = connect(cfg.station.db_path)
        state.ensure_tables(self.db)
        self.cursor = state.get_cursor(self.db, self.station_id)
        self.next_seq = self.cursor + 1
        self.inflight: dict[str, InFlight] = {}
        self.by_mid: dict[int, str] = {}
        self.paused_until = 0.0
        self.next_poll = 0.0
        self.next_status = 0.0
        self.uplink_state = "waiting"
        self.error: str | None = None
        self.orders_trigger = orders_trigger
        self.orders_status: dict[str, str] = {}
        self.orders_days: set[str] = set()  # extra dates asked for by orders.refresh commands
        self.counters = {"batches_sent": 0, "acks": 0, "refused": 0, "timeouts": 0, "gaps": 0,
                         "no_subscribers": 0}
        self.rng = random.Random()
        self.probing = False  # one single-event batch until central acks again
        self.soon_round = 0  # "resend soon" rounds in a row (no ack in between)
        self.timeouts_in_row = 0
        # The link's real state for the kiosk (``sync_state`` "link"): written on every change
        # and refreshed each LINK_BEAT_S, so a stale row means the uplink is not running.
        self._link_key: tuple[bool, bool] | None = None
        self._link_since = now_rfc3339()
        self._next_link_beat = 0.0
        self.client = make_client(self.up.broker, self.station_id)
        self.t_events = protocol.topic(self.station_id, "events")
        self.t_acks = protocol.topic(self.station_id, "acks")
        self.t_status = protocol.topic(self.station_id, "status")
        self.t_commands = protocol.topic(self.station_id, "commands")
        self.routes: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
            self.t_acks: ("ack.v1", self.on_ack), self.t_commands: ("command.v1", self.on_command)}
        self._new_session()
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.link = Link(self.client, self.up.broker, backoff_min_s=self.up.backoff_min_s,
                         backoff_max_s=self.up.backoff_max_s, on_up=self._on_up, on_down=self._on_down,
                         on_attempt=self._new_session)

    def _new_session(self) -> None:
        """A fresh session id in the will before each connection attempt.

        Central may see a connection's will before that connection's last online
        status (two workers); the shared session id lets it drop the stale one.
        """
        self.session = uuid.uuid4().hex
        self.client.will_set(self.t_status, protocol.dumps(protocol.offline_status(
            self.station_id, self.session)), qos=1, retain=True)

    # -- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event, beat: Callable[[], None] = lambda: None) -> None:
        """Step until ``stop``; ``beat`` is called every round (the systemd watchdog)."""
        while not stop.is_set():
            beat()
            try:
                self.step()
            except Exception as exc:  # never let one bad step end the uplink
                log.kv(logger, logging.ERROR, "uplink step failed", error=f"{exc.__class__.__name__}: {exc}")
                stop.wait(0.5)
        if self.link.connected:
            self._publish_status(online=False)
        self.link.close()

    def step(self) -> None:
        self.link.pump(0.02 if self.inflight else 0.05)
        self._note_link()
        if not self.link.connected:
            return
        now = time.monotonic()
        self._check_timeouts(now)
        self._fill_window(now)
        if now >= self.next_status:
            self._publish_status(online=True)

    def _fill_window(self, now: float) -> None:
        window, most = ((1, 1) if self.probing else (self.up.max_in_flight, self.up.batch_max_events))
        while len(self.inflight) < window and now >= self.paused_until:
            if now < self.next_poll:
                return
            rows = self.journal.rows_from(self.next_seq, most)
            if not rows:
                self.next_poll = now + self.up.poll_interval_s
                return
            limit = self.link.max_packet_size
            room = self.up.batch_max_bytes if limit is None else min(self.up.batch_max_bytes,
                                                                     limit - PACKET_OVERHEAD)
            batch = next(protocol.frame_batches(rows, self.station_id, now_rfc3339(),
                                                max_events=self.up.batch_max_events, max_bytes=room))
            if limit is not None and len(batch.payload) + PACKET_OVERHEAD > limit:
                self._too_large(batch, limit)
                return
            info = self.client.publish(self.t_events, batch.payload, qos=1,
                                       properties=publish_props(self.t_acks, batch.batch_id.encode()))
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                log.kv(logger, logging.WARNING, "publish failed", rc=mqtt.error_string(info.rc))
                return
            self.inflight[batch.batch_id] = InFlight(batch.batch_id, batch.first_seq, batch.last_seq,
                                                     now, info.mid)
            self.by_mid[info.mid] = batch.batch_id
            self.next_seq = batch.last_seq + 1
            self.counters["batches_sent"] += 1

    def _too_large(self, batch: protocol.Batch, limit: int) -> None:
        """One event the broker would disconnect us for: a visible refusal, retried later, not a loop."""
        why = (f"event seq {batch.first_seq} makes a {len(batch.payload)}-byte message; the broker "
               f"accepts packets up to {limit} bytes")
        log.kv(logger, logging.ERROR, "event too large for the broker", seq=batch.first_seq,
               bytes=len(batch.payload), limit=limit)
        self.counters["refused"] += 1
        self._set_state("refused", why)
        self.paused_until = time.monotonic() + self.up.rejected_retry_s
        self.next_status = 0.0

    def _check_timeouts(self, now: float) -> None:
        oldest = min((f.sent_at for f in self.inflight.values()), default=None)
        timeout = self.up.ack_timeout_s * 2 ** min(self.timeouts_in_row, 3)
        if oldest is not None and now - oldest > timeout:
            self.counters["timeouts"] += 1
            self.timeouts_in_row += 1
            log.kv(logger, logging.WARNING, "no ack in time; resending from the cursor",
                   cursor=self.cursor, in_flight=len(self.inflight), timeout_s=timeout)
            self._go_back(self.cursor + 1)

    def _resend_soon(self, why: str) -> None:
        """Forget what is in flight and resend from the cursor after a short jittered delay."""
        delay = self.up.resend_soon_s * 2 ** min(self.soon_round, 1) * self.rng.uniform(0.5, 1.5)
        self.soon_round += 1
        self.probing = True
        self.paused_until = max(self.paused_until, time.monotonic() + delay)
        self._go_back(self.cursor + 1)
        log.kv(logger, logging.INFO, "resending soon", why=why, in_s=f"{delay:.2f}",
               cursor=self.cursor)

    def _go_back(self, seq: int) -> None:
        """Resend from ``seq``: forget batches that start at or after it."""
        self.next_seq = max(1, seq)
        for bid in [b for b, f in self.inflight.items() if f.first >= self.next_seq]:
            self.by_mid.pop(self.inflight.pop(bid).mid, None)
        self.next_poll = 0.0

    # -- connection ----------------------------------------------------------------------------
    def _on_up(self) -> None:
        self.client.subscribe(self.t_acks, qos=1)
        self.client.subscribe(self.t_commands, qos=1)
        self._resend_soon("connected")
        if self.uplink_state == "waiting":
            self._set_state("ok", None)
        self._publish_status(online=True)

    def _on_down(self, why: str) -> None:
        self.inflight.clear()
        self.by_mid.clear()
        self.next_seq = self.cursor + 1

    # -- answers -------------------------------------------------------------------------------
    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        bid = self.by_mid.pop(mid, None)
        if bid is None:
            return
        if reason_code.value == NO_MATCHING_SUBSCRIBERS:
            if bid in self.inflight:
                self.counters["no_subscribers"] += 1
                self._resend_soon("no matching subscribers (central's workers away)")
            return
        if not reason_code.is_failure:
            return
        f = self.inflight.get(bid)
        self.counters["refused"] += 1
        why = f"broker refused the publish on {self.t_events}: {reason_code}"
        log.kv(logger, logging.ERROR, "publish refused", batch_id=bid, reason=str(reason_code))
        self._set_state("refused", why)
        self.paused_until = time.monotonic() + self.up.ack_timeout_s
        self._go_back(self.cursor + 1 if f is None else min(f.first, self.cursor + 1))
        self.next_status = 0.0

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        route = self.routes.get(msg.topic)
        if route is None:
            return
        schema, handler = route
        try:
            doc = protocol.parse_json(bytes(msg.payload), schema)
        except protocol.BadMessage as exc:
            log.kv(logger, logging.WARNING, "bad message ignored", topic=msg.topic, error=str(exc))
            return
        handler(doc)

    def on_ack(self, ack: dict[str, Any]) -> None:
        self.counters["acks"] += 1
        f = self.inflight.pop(str(ack["batch_id"]), None)
        if f is not None:
            self.by_mid.pop(f.mid, None)
        status = ack["status"]
        if status in ("stored", "duplicate"):
            self.probing, self.soon_round, self.timeouts_in_row = False, 0, 0
            self._advance(int(ack["stored_through_seq"]))
            if self.uplink_state != "ok":
                self._set_state("ok", None)
        elif status == "gap" and f is not None:
            self.counters["gaps"] += 1
            expected = int(ack["expected_seq"])
            holder = next((o for o in self.inflight.values() if o.first <= expected <= o.last), None)
            if holder is None:
                self._go_back(expected)
            elif time.monotonic() - holder.sent_at > 2 * self.up.resend_soon_s:
                self._go_back(holder.first)  # long unanswered while a later batch was: presumed lost
            else:
                self._go_back(f.first)  # still being stored by another worker: resend only this one
        elif status == "rejected" and f is not None:
            error = str(ack.get("error") or "rejected")
            log.kv(logger, logging.ERROR, "central rejected a batch", first_seq=f.first, last_seq=f.last,
                   error=error)
            state.put_state(self.db, "last_rejection", {"at": now_rfc3339(), "first_seq": f.first,
                                                        "last_seq": f.last, "error": error})
            self._set_state("rejected", error)
            self.paused_until = time.monotonic() + self.up.rejected_retry_s
            self._go_back(self.cursor + 1)
            self.next_status = 0.0

    def _advance(self, stored_through: int) -> None:
        target = min(stored_through, self.journal.last_seq())
        if target > self.cursor:
            self.cursor = target
            state.set_cursor(self.db, self.station_id, target)
        for bid in [b for b, f in self.inflight.items() if f.last <= self.cursor]:
            self.by_mid.pop(self.inflight.pop(bid).mid, None)
        if self.next_seq <= self.cursor:
            self.next_seq = self.cursor + 1

    def on_command(self, cmd: dict[str, Any]) -> None:
        log.kv(logger, logging.INFO, "command", command=cmd["command"], command_id=cmd["command_id"])
        if cmd["command"] == "resend_from":
            seq = int(cmd["seq"])
            if seq - 1 < self.cursor:
                self.cursor = seq - 1
                state.set_cursor(self.db, self.station_id, self.cursor)
            self.inflight.clear()
            self.by_mid.clear()
            self.next_seq = seq
            self.paused_until = 0.0
            self.next_poll = 0.0
        elif cmd["command"] == "diagnose" and self.on_diagnose is not None:
            self.on_diagnose(cmd)
        elif cmd["command"] == "orders.refresh" and self.orders_trigger is not None:
            if "delivery_date" in cmd:
                self.orders_days.add(str(cmd["delivery_date"]))
            self.orders_trigger.set()

    # -- state and status ----------------------------------------------------------------------
    def _note_link(self) -> None:
        """Record the broker link as it is now: connected, connecting, or down since when."""
        now = time.monotonic()
        key = (self.link.connected, self.link.socket_open and not self.link.connected)
        if key == self._link_key and now < self._next_link_beat:
            return
        if self._link_key is None or key[0] != self._link_key[0]:
            self._link_since = now_rfc3339()
        self._link_key = key
        self._next_link_beat = now + LINK_BEAT_S
        state.put_state(self.db, "link", {"connected": key[0], "connecting": key[1],
                                          "since": self._link_since, "error": self.link.last_error,
                                          "at": now_rfc3339()})

    def _set_state(self, name: str, error: str | None) -> None:
        if (name, error) == (self.uplink_state, self.error):
            return
        # The shared table first: whoever sees the new state in memory finds it there too.
        state.put_state(self.db, "uplink", {"state": name, "error": error, "at": now_rfc3339()})
        self.uplink_state, self.error = name, error

    def status_doc(self, online: bool) -> dict[str, Any]:
        last = self.journal.last_seq()
        try:
            free = shutil.disk_usage(self.cfg.station.data_dir).free
        except OSError:
            free = 0
        return {
            "schema": protocol.STATUS_SCHEMA, "station_id": self.station_id, "online": online,
            "at": now_rfc3339(), "version": __version__,
            "devices": self.devices(),
            "backlog": {"events": max(0, last - self.cursor), "clips": state.clip_backlog(self.db)},
            "last_seq": last, "stored_through_seq": self.cursor, "disk_free_bytes": free,
            "clock_synced": Clock().synced(),
            "uplink": {"state": self.uplink_state, "error": self.error},
            "orders": dict(self.orders_status), "session": self.session,
            **self.status_extra(),
        }

    def _publish_status(self, online: bool) -> None:
        doc = self.status_doc(online)
        state.put_state(self.db, "status", doc)
        self.client.publish(self.t_status, protocol.dumps(doc), qos=1, retain=True)
        self.next_status = time.monotonic() + self.up.status_interval_s
