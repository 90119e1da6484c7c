"""Latency: last byte of a frame written at 9600 baud on a pty -> reading at the consumer.

A writer paces each frame byte by byte at 9600 baud (10 bits a byte, ~1.04 ms)
on the master side of a real pty and notes the time it wrote the last byte; the
ScaleLink reads the slave, parses, applies stability and puts the reading on its
queue; a consumer thread takes it and notes the time. Peer (same run): a naive
reader, pyserial ``readline()`` plus a regex, as many public scale drivers do.
Prints p50/p99/max per case and ends with one JSON line of all figures.
"""

from __future__ import annotations

import json
import os
import queue
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware_bridge.link import LinkSettings, ScaleLink
from firmware_bridge.protocols import get_spec
from firmware_bridge.protocols.base import DeviceState

BYTE_S = 10 / 9600
FRAMES = int(os.environ.get("BENCH_FRAMES", "200"))


def _pace(master: int, frame: bytes) -> int:
    """Write ``frame`` at 9600 baud; return perf_counter_ns after the last byte."""
    t = time.perf_counter()
    for i in range(len(frame)):
        target = t + i * BYTE_S
        while time.perf_counter() < target:
            pass
        os.write(master, frame[i : i + 1])
    return time.perf_counter_ns()


def _pty(tmp: Path, name: str) -> tuple[int, int, str]:
    master, slave = os.openpty()
    path = tmp / name
    os.symlink(os.ttyname(slave), path)
    return master, slave, str(path)


def _percentiles(ns: list[int]) -> dict[str, float]:
    ms = sorted(x / 1e6 for x in ns)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 3), "p99_ms": round(q[98], 3), "max_ms": round(ms[-1], 3)}


def bench_link(protocol: str, tmp: Path) -> dict[str, float]:
    spec = get_spec(protocol)
    master, slave, path = _pty(tmp, protocol)
    link = ScaleLink(LinkSettings(port=path, protocol=protocol, silence_timeout_s=30)).start()
    got: queue.SimpleQueue[int] = queue.SimpleQueue()

    def consume() -> None:
        while True:
            r = link.readings.get()
            if r.weight_g is None:
                break
            got.put(time.perf_counter_ns())

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    time.sleep(0.3)
    lat = []
    for i in range(FRAMES):
        frame = spec.encode(DeviceState(1000 + i), spec.default_unit)
        sent = _pace(master, frame)
        lat.append(got.get(timeout=2) - sent)
        time.sleep(0.002)
    link.stop()
    os.close(master)
    os.close(slave)
    return _percentiles(lat)


def _read_one(dev: Any, pattern: re.Pattern[bytes], done: list[int]) -> None:
    if pattern.search(dev.readline()):
        done.append(time.perf_counter_ns())


def bench_peer_readline(tmp: Path) -> dict[str, float]:
    """The naive peer: pyserial readline() + regex + float, on the same pty setup."""
    import serial

    spec = get_spec("ad")
    master, slave, path = _pty(tmp, "peer")
    dev = serial.Serial(path, 9600, timeout=1)
    pattern = re.compile(rb"(ST|US),(GS|NT),([+-][0-9. ]+)kg")
    lat = []
    for i in range(FRAMES):
        frame = spec.encode(DeviceState(1000 + i), "kg")
        done: list[int] = []
        reader = threading.Thread(target=_read_one, args=(dev, pattern, done))
        reader.start()
        sent = _pace(master, frame)
        reader.join()
        lat.append(done[0] - sent)
    dev.close()
    os.close(master)
    os.close(slave)
    return _percentiles(lat)


def main() -> None:
    figures: dict[str, object] = {"frames_per_case": FRAMES, "baud": 9600}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for protocol in ("ad", "xk3190-a9", "hx711"):
            r = bench_link(protocol, tmp)
            print(f"link {protocol:10s} last byte -> consumer: p50 {r['p50_ms']:.3f} ms  "
                  f"p99 {r['p99_ms']:.3f} ms  max {r['max_ms']:.3f} ms")
            figures[f"link_{protocol}"] = r
        peer = bench_peer_readline(tmp)
        print(f"peer pyserial readline (ad) last byte -> parsed: p50 {peer['p50_ms']:.3f} ms  "
              f"p99 {peer['p99_ms']:.3f} ms  max {peer['max_ms']:.3f} ms")
        figures["peer_readline_ad"] = peer
    print(json.dumps({"bench": "scale_latency", **figures}))


if __name__ == "__main__":
    main()
