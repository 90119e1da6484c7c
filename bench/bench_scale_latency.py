"""Latency: last byte of a frame written at 9600 baud on a pty -> reading at the consumer.

A writer *process* (so it never competes with the reader for the GIL, as a real
indicator would not) paces each frame byte by byte at 9600 baud (10 bits a
byte, ~1.04 ms) on the master side of a real pty and notes CLOCK_MONOTONIC
just before writing the byte that completes the frame (so the figure includes
the write system call itself). The ScaleLink reads the slave, parses, applies stability
and puts the reading on its queue; a consumer thread takes it and notes the
same clock. Line frames (CR LF) are complete for the parser at the CR, so the
headline figure runs from the frame-completing byte (the CR; for STX/ETX frames
the last byte); the figure from the very last byte (the LF) is printed beside
it and is negative when the reading is out before the LF has arrived.
Peer (same run, same writer): a naive reader, pyserial
``readline()`` plus a regex, as many public scale drivers do.
Streaming protocols without a check (A&D, HX711) deliver a weight only on the
second frame that carries it; there each weight is sent twice and the figure
runs from the second frame (add one frame period for the confirmation).
Prints p50/p99/max per case and ends with one JSON line of all figures.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware_bridge.link import LinkSettings, ScaleLink
from firmware_bridge.protocols import get_spec
from firmware_bridge.protocols.base import DeviceState

BYTE_S = 10 / 9600
FRAMES = int(os.environ.get("BENCH_FRAMES", "200"))
FIRST = 1000  # frame i carries weight FIRST + i grams


def _now() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _writer(master: int, frames: list[bytes], conn: object) -> None:
    """Child process: pace every frame at 9600 baud.

    Sends back, per frame, (time after the byte that completes the frame for a
    CR-or-LF line parser, i.e. the CR of a CR LF line; time after the last byte).
    """
    time.sleep(0.5)
    sent = []
    for frame in frames:
        complete_at = len(frame.rstrip(b"\n")) - 1
        start = time.perf_counter()
        t_complete = t_last = 0
        for i in range(len(frame)):
            while time.perf_counter() < start + i * BYTE_S:
                pass
            # Stamped just *before* the write: the reader on the other core may
            # finish before this process returns from write(). Conservative.
            t_last = _now()
            if i == complete_at:
                t_complete = t_last
            os.write(master, frame[i : i + 1])
        sent.append((t_complete, t_last))
        time.sleep(0.004)
    conn.send(sent)  # type: ignore[attr-defined]


def _stats(ns: list[int]) -> tuple[float, float, float]:
    ms = sorted(x / 1e6 for x in ns)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return round(q[49], 3), round(q[98], 3), round(ms[-1], 3)


def _run(protocol: str, tmp: Path, reader: Callable[[str, dict[int, int]], Callable[[], None]],
         from_last_byte: bool = False) -> dict[str, float]:
    spec = get_spec(protocol)
    master, slave = os.openpty()
    path = tmp / protocol
    path.unlink(missing_ok=True)
    os.symlink(os.ttyname(slave), path)
    # A streaming protocol without a check delivers a weight on the second frame that
    # carries it (docs/scales.md): each weight is sent twice and timed from the second.
    reps = 2 if spec.check == "none" and spec.mode == "continuous" else 1
    frames = [spec.encode(DeviceState(FIRST + i), spec.default_unit)
              for i in range(FRAMES) for _ in range(reps)]
    received: dict[int, int] = {}
    stop = reader(str(path), received)
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=_writer, args=(master, frames, child))
    proc.start()
    sent: list[tuple[int, int]] = parent.recv()[reps - 1 :: reps]
    proc.join()
    time.sleep(0.1)
    stop()
    os.close(master)
    os.close(slave)
    got = [(received[FIRST + i], tc, tl) for i, (tc, tl) in enumerate(sent)
           if FIRST + i in received]
    p50, p99, mx = _stats([r - (tl if from_last_byte else tc) for r, tc, tl in got])
    last50, last99, _ = _stats([r - tl for r, _tc, tl in got])
    return {"p50_ms": p50, "p99_ms": p99, "max_ms": mx, "from_last_byte_p50_ms": last50,
            "from_last_byte_p99_ms": last99, "lost": FRAMES - len(got)}


def _link_reader(protocol: str) -> Callable[[str, dict[int, int]], Callable[[], None]]:
    def start(path: str, received: dict[int, int]) -> Callable[[], None]:
        link = ScaleLink(LinkSettings(port=path, protocol=protocol, silence_timeout_s=30)).start()

        def consume() -> None:
            while True:
                r = link.readings.get()
                if r.weight_g is None:
                    return
                received[r.weight_g] = _now()

        threading.Thread(target=consume, daemon=True).start()
        return link.stop
    return start


def _peer_reader(path: str, received: dict[int, int]) -> Callable[[], None]:
    import serial

    dev = serial.Serial(path, 9600, timeout=0.2)
    pattern = re.compile(rb"(ST|US),(GS|NT),([+-][0-9. ]+)kg")
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            line = dev.readline()
            m = pattern.search(line)
            if m:
                received[round(float(m.group(3)) * 1000)] = _now()

    t = threading.Thread(target=loop, daemon=True)
    t.start()

    def stop() -> None:
        done.set()
        t.join()
        dev.close()
    return stop


def main() -> None:
    figures: dict[str, object] = {"frames_per_case": FRAMES, "baud": 9600}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for protocol in ("ad", "xk3190-a9", "hx711"):
            r = _run(protocol, tmp, _link_reader(protocol))
            print(f"link {protocol:10s} frame-completing byte -> consumer: "
                  f"p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  max {r['max_ms']:.3f} ms"
                  f"  (from the last byte, LF incl.: p50 {r['from_last_byte_p50_ms']:.3f} "
                  f"p99 {r['from_last_byte_p99_ms']:.3f})  lost {r['lost']}")
            figures[f"link_{protocol}"] = r
        peer = _run("ad", tmp, _peer_reader, from_last_byte=True)
        print(f"peer pyserial readline (ad) last byte (LF, which readline needs) -> parsed: "
              f"p50 {peer['p50_ms']:.3f} ms  p99 {peer['p99_ms']:.3f} ms  "
              f"max {peer['max_ms']:.3f} ms  lost {peer['lost']}")
        figures["peer_readline_ad"] = peer
    print(json.dumps({"bench": "scale_latency", **figures}))


if __name__ == "__main__":
    main()
