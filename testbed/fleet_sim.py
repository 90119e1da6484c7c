"""Many simulated stations' MQTT presence in one process: for the fleet test and its bench.

Each station is a real paho MQTT 5 client with its own TCP connection, its
retained ``acceptance.status/1`` and its will (the offline form naming its
session), exactly like the uplink's. One thread drives every client through a
``selectors`` loop (paho's ``loop_read``/``loop_write``/``loop_misc``), so 1,300
stations cost three file descriptors each (the socket and paho's wake-up pair)
and no thread each. ``drop`` closes a station's socket without a DISCONNECT, so
the broker publishes its will, as when a kiosk loses power.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import selectors
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from contract import protocol


class FleetSim:
    def __init__(self, host: str, port: int, stations: list[str],
                 status_of: Callable[[str, str], dict[str, Any]], keepalive_s: int = 60,
                 tls_dir: Path | None = None) -> None:
        self.host, self.port = host, port
        self.status_of = status_of  # (station, session) -> the online status document
        self.keepalive_s = keepalive_s
        self.clients: dict[str, mqtt.Client] = {}
        self.sessions: dict[str, str] = {}
        self.connected: set[str] = set()
        self.dropped: set[str] = set()
        self.sel = selectors.DefaultSelector()
        self.todo: queue.Queue[Callable[[], None]] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="fleet-sim", daemon=True)
        self.stations = stations
        self.tls_dir = tls_dir  # a test PKI with a certificate per station (CN = station id)

    def _client(self, station: str) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=station, protocol=MQTTProtocolVersion.MQTTv5)
        if self.tls_dir is not None:
            d = self.tls_dir
            c.tls_set(ca_certs=str(d / "ca.crt"), certfile=str(d / f"{station}.crt"),
                      keyfile=str(d / f"{station}.key"))
        session = uuid.uuid4().hex
        self.sessions[station] = session
        c.will_set(protocol.topic(station, "status"),
                   protocol.dumps(protocol.offline_status(station, session)), qos=1, retain=True)

        def on_connect(client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
            if not rc.is_failure:
                self.connected.add(station)
                self._publish(station)

        c.on_connect = on_connect
        return c

    def start(self, connect_timeout_s: float = 120.0) -> None:
        """Connect every station (a few at a time in flight) and publish each one's status."""
        self.thread.start()
        for station in self.stations:
            c = self._client(station)
            c.connect(self.host, self.port, self.keepalive_s, clean_start=True)
            self.todo.put(functools.partial(self._register, station, c))
        end = time.monotonic() + connect_timeout_s
        while len(self.connected) < len(self.stations) and time.monotonic() < end:
            time.sleep(0.05)
        if len(self.connected) < len(self.stations):
            raise RuntimeError(f"only {len(self.connected)} of {len(self.stations)} stations connected")

    def _register(self, station: str, c: mqtt.Client) -> None:
        """In the loop's thread: from now on it alone touches the client."""
        self.clients[station] = c
        sock = c.socket()
        if sock is not None:
            self.sel.register(sock, selectors.EVENT_READ, c)

    def _publish(self, station: str) -> None:
        doc = self.status_of(station, self.sessions[station])
        self.clients[station].publish(protocol.topic(station, "status"), protocol.dumps(doc), qos=1,
                                      retain=True)

    def republish(self, station: str) -> None:
        self.todo.put(lambda: self._publish(station))

    def drop(self, station: str) -> float:
        """Close the station's TCP connection without DISCONNECT (its will follows); the time it did."""
        done = threading.Event()
        at: list[float] = []

        def cut() -> None:
            c = self.clients[station]
            sock = c.socket()
            if sock is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.sel.unregister(sock)
                with contextlib.suppress(OSError, AttributeError):
                    sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
                at.append(time.monotonic())
            self.dropped.add(station)
            done.set()

        self.todo.put(cut)
        done.wait(10)
        return at[0] if at else time.monotonic()

    def _loop(self) -> None:
        next_misc = 0.0
        while not self.stop.is_set():
            while True:
                try:
                    self.todo.get_nowait()()
                except queue.Empty:
                    break
            if self.sel.get_map():
                for key, _ in self.sel.select(0.02):
                    c = key.data
                    rc = c.loop_read()
                    while rc == mqtt.MQTT_ERR_SUCCESS and getattr(key.fileobj, "pending", lambda: 0)():
                        rc = c.loop_read()  # TLS: records already decrypted wait in the buffer
                    if rc != mqtt.MQTT_ERR_SUCCESS:
                        with contextlib.suppress(KeyError, ValueError):
                            self.sel.unregister(key.fileobj)
            else:
                time.sleep(0.02)
            for station, c in self.clients.items():
                if station not in self.dropped and c.want_write():
                    c.loop_write()
            now = time.monotonic()
            if now >= next_misc:
                next_misc = now + 1.0
                for station, c in self.clients.items():
                    if station not in self.dropped:
                        c.loop_misc()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        for c in self.clients.values():
            with contextlib.suppress(Exception):
                sock = c.socket()
                if sock is not None:
                    sock.close()


DISTRICTS = ("东城区", "西城区", "朝阳区", "海淀区", "丰台区")


def station_ids(n: int) -> list[str]:
    return [f"st-{i:04d}" for i in range(n)]


def school_of(i: int) -> str:
    """About 2.6 stations per school over 500 schools, as in the city."""
    return f"sch-{i % 500:03d}"


def master_data(n: int) -> dict[str, Any]:
    """Central's master data for ``station_ids(n)``: station → school, school → name and district."""
    stations = {s: school_of(i) for i, s in enumerate(station_ids(n))}
    schools = {f"sch-{k:03d}": {"name": f"第{k + 1}小学", "district": DISTRICTS[k % len(DISTRICTS)]}
               for k in range(min(n, 500))}
    return {"stations": stations, "schools": schools}


def sample_status(i: int, session: str) -> dict[str, Any]:
    """Station i's online status: a few stations have a broken scale or camera, low disk, an old version."""
    sid = station_ids(i + 1)[i]
    scale_ok, camera_ok = i % 97 != 5, i % 89 != 7
    return {
        "schema": protocol.STATUS_SCHEMA, "station_id": sid, "online": True, "session": session,
        "at": "2026-12-02T01:00:00.000Z", "version": "1.4.1" if i % 10 == 3 else "1.4.2",
        "release": "1.4.1" if i % 10 == 3 else "1.4.2",
        "devices": {"scale": "稳定" if scale_ok else "无响应", "camera": "正常" if camera_ok else "断开",
                    "thermometer": "4.1 ℃"},
        "devices_ok": {"scale": scale_ok, "camera": camera_ok, "thermometer": True},
        "backlog": {"events": i % 7, "clips": 0}, "last_seq": 1000 + i,
        "stored_through_seq": 1000 + i - i % 7,
        "disk_free_bytes": 200_000_000 if i % 211 == 11 else 20_000_000_000, "clock_synced": True,
        "uplink": {"state": "ok", "error": None}, "orders": {},
        "update": {"state": "applied", "step": "update.applied", "version": "1.4.2", "at": None,
                   "reason": None},
    }
