"""A paho-mqtt 2 (MQTT 5) client driven from its owner's thread, reconnecting with full jitter.

paho's own reconnect (``loop_forever``/``loop_start`` + ``reconnect_delay_set``)
doubles its delay without jitter, so a fleet restarted together would stampede
the broker in lock step. ``Link.pump`` runs one network-loop step in the
caller's thread (so callbacks run there too: one owner, no locks) and, while
disconnected, waits ``full_jitter(attempt)`` before each connection attempt.
Every wait is bounded: the TCP connect and TLS handshake by
``connect_timeout_s``, the CONNACK by the same, each loop step by its timeout.
"""

from __future__ import annotations

import contextlib
import logging
import random
import selectors
import ssl
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.broker_config import BrokerSection
from core import log
from core.backoff import full_jitter

logger = logging.getLogger("contract.mqtt")


def make_client(broker: BrokerSection, client_id: str) -> mqtt.Client:
    """An MQTT 5 client with TLS (CA + client certificate) when the config names a CA."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    tls = broker.tls
    if tls.ca_file is not None:
        c.tls_set(ca_certs=str(tls.ca_file),
                  certfile=None if tls.cert_file is None else str(tls.cert_file),
                  keyfile=None if tls.key_file is None else str(tls.key_file),
                  cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.connect_timeout = broker.connect_timeout_s
    c.max_inflight_messages = 0  # our own window bounds what is in flight
    return c


def publish_props(response_topic: str | None = None, correlation: bytes | None = None) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if response_topic is not None:
        props.ResponseTopic = response_topic
    if correlation is not None:
        props.CorrelationData = correlation
    return props


class Link:
    """Connection state of one client: connects, pumps, and reconnects with jitter."""

    def __init__(self, client: mqtt.Client, broker: BrokerSection, *, backoff_min_s: float,
                 backoff_max_s: float, on_up: Callable[[], None] | None = None,
                 on_down: Callable[[str], None] | None = None, rng: random.Random | None = None,
                 on_attempt: Callable[[], None] | None = None) -> None:
        self.client = client
        self.broker = broker
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.on_up = on_up
        self.on_down = on_down
        self.on_attempt = on_attempt
        self.rng = rng or random.Random()
        self.connected = False
        self.socket_open = False
        self.attempt = 0
        self.next_attempt = 0.0  # the very first connection is immediate
        self.connack_deadline = 0.0
        self.last_error: str | None = None
        self.attempts_made = 0
        self.max_packet_size: int | None = None  # the broker's, from the CONNACK (MQTT 5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            self._lost(f"connection refused: {reason_code}")
            client.disconnect()
            return
        self.connected = True
        self.attempt = 0
        self.last_error = None
        limit = getattr(properties, "MaximumPacketSize", None)
        self.max_packet_size = limit if isinstance(limit, int) else None
        log.kv(logger, logging.INFO, "connected", client_id=client._client_id.decode(),
               broker=f"{self.broker.host}:{self.broker.port}")
        if self.on_up is not None:
            self.on_up()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._lost(f"disconnected: {reason_code}")

    def _lost(self, why: str) -> None:
        was = self.connected
        self.connected = False
        self.socket_open = False
        self.last_error = why
        delay = full_jitter(self.attempt, self.backoff_min_s, self.backoff_max_s, self.rng)
        self.attempt += 1
        self.next_attempt = time.monotonic() + delay
        if was or self.attempt == 1:
            log.kv(logger, logging.WARNING, "broker link down", reason=why, retry_in_s=f"{delay:.2f}")
        if was and self.on_down is not None:
            self.on_down(why)

    def pump(self, timeout: float) -> None:
        """One step: connect when it is time, else run the network loop for up to ``timeout``."""
        now = time.monotonic()
        if not self.socket_open:
            if now < self.next_attempt:
                time.sleep(min(timeout, self.next_attempt - now))
                return
            self.attempts_made += 1
            if self.on_attempt is not None:
                self.on_attempt()
            try:
                self.client.connect(self.broker.host, self.broker.port, self.broker.keepalive_s,
                                    clean_start=True)
            except (TimeoutError, OSError, ssl.SSLError, ValueError) as exc:
                self._lost(f"connect failed: {exc.__class__.__name__}: {exc}")
                return
            self.socket_open = True
            self.connack_deadline = now + self.broker.connect_timeout_s
        rc = self.client.loop(timeout)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS and self.socket_open:
            self._lost(f"network loop: {mqtt.error_string(rc)}")
            return
        if self.socket_open and not self.connected and time.monotonic() > self.connack_deadline:
            self.client.disconnect()
            self._lost("no CONNACK within the connect timeout")

    def close(self) -> None:
        if self.socket_open:
            self.client.disconnect()
            for _ in range(10):
                if self.client.loop(0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
        self.connected = self.socket_open = False


def publish_once(broker: BrokerSection, client_id: str, topic: str, payload: bytes) -> str | None:
    """Connect, publish one QoS 1 message, wait for the broker's PUBACK, disconnect.

    For central's one-off commands (``central-command``, the fleet view's
    diagnose). Returns None when the broker took it, else why not (unreachable,
    refused, no CONNACK or PUBACK within ``connect_timeout_s``, or a failure
    reason code such as 0x87 not authorised). The network loop runs here on a
    ``selectors`` poll, not paho's ``select()``, which fails outright in a
    process with more than 1,024 open files (central's HTTP API may have them).
    """
    client = make_client(broker, client_id)
    result: dict[str, Any] = {}
    client.on_connect = lambda c, u, f, rc, p: result.update(connack=rc)
    client.on_publish = lambda c, u, mid, rc, p: result.update(puback=rc)
    try:
        client.connect(broker.host, broker.port, broker.keepalive_s)
    except (OSError, ssl.SSLError, ValueError) as exc:
        return f"cannot reach the broker: {exc}"
    sock = client.socket()
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + broker.connect_timeout_s
    try:
        if sock is None:
            return "cannot reach the broker: no socket"
        sel.register(sock, selectors.EVENT_READ)
        published = False
        while "puback" not in result and time.monotonic() < deadline:
            buffered = getattr(sock, "pending", lambda: 0)()  # TLS: decrypted bytes already read
            if (buffered or sel.select(0.05)) and client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return "the broker closed the connection"
            if client.want_write():
                client.loop_write()
            connack = result.get("connack")
            if connack is not None and connack.is_failure:
                return f"the broker refused the connection: {connack}"
            if connack is not None and not published:
                client.publish(topic, payload, qos=1)
                published = True
        rc = result.get("puback")
        if rc is None:
            return "the broker did not acknowledge in time"
        return f"the broker refused it: {rc}" if rc.is_failure else None
    finally:
        sel.close()
        client.disconnect()
        with contextlib.suppress(Exception):
            client.loop_write()
