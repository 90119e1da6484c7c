"""Warnings delivered at once on MQTT (real mosquitto), a webhook (HMAC verified by the receiver,
retried after a 500) and e-mail (aiosmtpd), each exactly once, even across a restart of central."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from aiosmtpd.controller import Controller
from paho.mqtt.enums import CallbackAPIVersion

from central.config import CentralConfig
from central.platform import channels, deliveries, service
from central.platform.data import rfc3339
from central.store import Store
from tests.platform_harness import DAY, STATION, Journal, at_once, put, store, utc
from tests.sync_harness import Broker, free_port
from tests.waiting import wait_until

__all__ = ["store"]
SECRET = b"hook-secret-0123456789"


class Receiver(BaseHTTPRequestHandler):
    got: list[dict[str, Any]]
    fail_first: list[bool]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        good = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(good, self.headers.get(channels.SIGNATURE_HEADER, "")):
            self.send_response(401)
        elif self.fail_first and self.fail_first.pop():
            self.send_response(500)
        else:
            self.got.append(json.loads(body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *a: Any) -> None:
        pass


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    broker = Broker(tmp_path)
    broker.start()
    got: list[dict[str, Any]] = []
    fail_first = [True]
    handler = type("R", (Receiver,), {"got": got, "fail_first": fail_first})
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    box = Mailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=free_port())
    smtp.start()
    seen: list[tuple[str, dict[str, Any]]] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="school-sub")
    subscribed = threading.Event()
    sub.on_message = lambda c, u, m: seen.append((m.topic, json.loads(m.payload)))
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("acceptance/v1/schools/+/warnings", qos=1)
    sub.loop_start()
    assert subscribed.wait(10)
    (tmp_path / "hook.key").write_bytes(SECRET + b"\n")
    w: dict[str, Any] = {"broker": broker, "http": http, "got": got, "box": box, "smtp": smtp, "mqtt": seen,
                         "tmp": tmp_path, "fail_first": fail_first}
    try:
        yield w
    finally:
        sub.loop_stop()
        sub.disconnect()
        with contextlib.suppress(AssertionError, RuntimeError):
            w["smtp"].stop()
        http.shutdown()
        broker.kill()


def config(w: dict[str, Any], dsn: str) -> CentralConfig:
    return CentralConfig.model_validate({
        "broker": {"host": "127.0.0.1", "port": w["broker"].port, "connect_timeout_s": 3.0},
        "store": {"dsn": dsn}, "http": {"orders_dir": str(w["tmp"] / "orders")},
        "warnings": {"enabled": True, "smtp_port": w["smtp"].port, "backoff_min_s": 0.05,
                     "backoff_max_s": 0.1, "schools": {STATION: {
                         "mqtt": True, "emails": ["leader@school.invalid", "jw@school.invalid"],
                         "webhooks": [{"url": f"http://127.0.0.1:{w['http'].server_port}/h",
                                       "secret_file": str(w["tmp"] / "hook.key")}]}}}})


def test_retest_after_reject_delivered_once_on_every_channel(store: Store, world: dict[str, Any]) -> None:
    j = Journal()
    j.honest_morning()
    seq = j.add("alert.raised", utc("06:55"), {"code": "RETEST_AFTER_REJECT", "message": "复检", "refs": [2]})
    put(store, j)
    cfg = config(world, store.dsn)
    out = service.cycle(store, cfg, date.fromisoformat(DAY))
    assert len(out["new_warnings"]) == 1 and out["delivery"] == {"sent": 4, "failed": 0}
    wid = out["new_warnings"][0]
    wait_until(lambda: len(world["mqtt"]) == 1, timeout=10)
    topic, msg = world["mqtt"][0]
    assert topic == f"acceptance/v1/schools/{STATION}/warnings" and msg["warning_id"] == wid
    assert msg["indicator"] == "retest_after_reject" and msg["evidence"]["events"][0]["seq"] == seq
    assert [g["warning_id"] for g in world["got"]] == [wid]  # the 500 was retried, once delivered
    assert sorted(r for rcpt, _ in world["box"].messages for r in rcpt) == [
        "jw@school.invalid", "leader@school.invalid"]
    assert wid.encode() in world["box"].messages[0][1]

    restarted = Store(store.dsn)  # central restarts: a new process, the same store
    try:
        again = service.cycle(restarted, cfg, date.fromisoformat(DAY))
    finally:
        restarted.close()
    assert again == {"day": DAY, "new_warnings": [], "discipline": {"opened": 0, "escalated": 0},
                     "delivery": {"sent": 0, "failed": 0}}
    assert len(world["got"]) == 1 and len(world["box"].messages) == 2 and len(world["mqtt"]) == 1


def test_a_target_down_stays_pending_then_is_sent_once(store: Store, world: dict[str, Any]) -> None:
    j = Journal()
    j.line(utc("06:40"), delivered=999)
    put(store, j)
    cfg = config(world, store.dsn)
    world["smtp"].stop()  # the mail server is down: the e-mails fail, the others go
    out = service.cycle(store, cfg, date.fromisoformat(DAY))
    assert out["delivery"] == {"sent": 2, "failed": 2}
    rows = store.rows("SELECT channel, attempts, delivered_at IS NULL FROM platform_deliveries "
                      "WHERE channel='email'")
    assert [(c, int(a), bool(n)) for c, a, n in rows] == [("email", 6, True)] * 2  # 1 + 5 retries
    world["smtp"] = Controller(world["box"], hostname="127.0.0.1", port=world["smtp"].port)
    world["smtp"].start()
    assert service.cycle(store, cfg, date.fromisoformat(DAY))["delivery"] == {"sent": 2, "failed": 0}
    assert len(world["box"].messages) == 2 and len(world["got"]) == 1


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = channels.payload({"warning_id": "w", "school_id": "s"})
    assert channels.signature(b"k", body) == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert body == b'{"schema":"acceptance.warning/1","school_id":"s","warning_id":"w"}'


def test_old_warnings_are_not_sent_to_a_new_recipient(store: Store, world: dict[str, Any]) -> None:
    j = Journal()
    j.line(utc("06:40"), delivered=999)
    put(store, j)
    cfg = config(world, store.dsn)
    off = CentralConfig.model_validate({**cfg.model_dump(mode="json"), "warnings": {
        **cfg.warnings.model_dump(mode="json"), "enabled": False}})
    assert len(service.cycle(store, off, date.fromisoformat(DAY))["new_warnings"]) == 1
    store._exec("UPDATE platform_warnings SET created_at=?", ("2026-01-01T00:00:00.000Z",))
    assert service.cycle(store, cfg, date.fromisoformat(DAY))["delivery"] == {"sent": 0, "failed": 0}
    store._exec("UPDATE platform_warnings SET created_at=?", (rfc3339(datetime.now(UTC)),))
    assert service.cycle(store, cfg, date.fromisoformat(DAY))["delivery"] == {"sent": 4, "failed": 0}


def test_a_claimed_target_is_left_to_its_holder_until_its_lease_ends(store: Store,
                                                                    world: dict[str, Any]) -> None:
    """Another engine process holds the claims: this one sends nothing until the lease runs out."""
    j = Journal()
    j.line(utc("06:40"), delivered=999)
    put(store, j)
    cfg = config(world, store.dsn)
    off = CentralConfig.model_validate({**cfg.model_dump(mode="json"), "warnings": {
        **cfg.warnings.model_dump(mode="json"), "enabled": False}})
    wid = service.cycle(store, off, date.fromisoformat(DAY))["new_warnings"][0]
    deliveries.ensure(store)
    for t in deliveries.targets(cfg.warnings, cfg.broker, STATION):
        assert deliveries.claim(store, wid, t, 600, holder="other-host:1")
        assert not deliveries.claim(store, wid, t, 600)  # a live claim is not taken twice
    assert deliveries.deliver_pending(store, cfg.warnings, cfg.broker) == {
        "sent": 0, "failed": 0, "claimed_elsewhere": 4}
    assert world["got"] == [] and world["box"].messages == []
    store._exec("UPDATE platform_deliveries SET claimed_until=?", ("2026-01-01T00:00:00.000Z",))  # it died
    assert deliveries.deliver_pending(store, cfg.warnings, cfg.broker) == {"sent": 4, "failed": 0}
    assert [g["warning_id"] for g in world["got"]] == [wid]
    assert store.rows("SELECT count(*) FROM platform_deliveries WHERE claimed_by IS NOT NULL") == [(0,)]
    assert deliveries.deliver_pending(store, cfg.warnings, cfg.broker) == {"sent": 0, "failed": 0}


def test_two_engines_at_once_send_each_message_once(store: Store, world: dict[str, Any]) -> None:
    """Two engine processes (own connections) run the same cycle at the same moment."""
    j = Journal()
    for n in range(6):
        j.line(utc(f"06:4{n}"), delivered=999, line_id=str(n))
    put(store, j)
    cfg = config(world, store.dsn)
    world["fail_first"].clear()  # no 500: both start sending at once
    outs = at_once(store.dsn, lambda own: service.cycle(own, cfg, date.fromisoformat(DAY)))
    assert sorted(len(o["new_warnings"]) for o in outs) in ([0, 6], [1, 5], [2, 4], [3, 3])
    assert sum(o["delivery"]["sent"] for o in outs) == 24 and all(o["delivery"]["failed"] == 0 for o in outs)
    ids = {w for o in outs for w in o["new_warnings"]}
    assert sorted(g["warning_id"] for g in world["got"]) == sorted(ids)
    assert len(world["box"].messages) == 12
    wait_until(lambda: len(world["mqtt"]) == 6, timeout=10)
    assert sorted(m["warning_id"] for _, m in world["mqtt"]) == sorted(ids)
    assert store.rows("SELECT count(*), sum(attempts) FROM platform_deliveries") == [(24, 24)]
