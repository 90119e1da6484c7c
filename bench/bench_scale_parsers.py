"""Parser throughput in MB/s per protocol (pure parsing, no I/O).

Each protocol parses ~1 MB of its own frames (random weights, with stable and
net flags varied) fed in 4 KiB chunks, best of 3 runs. Peer (same run): a naive
A&D parser, ``bytes.split`` + regex + ``float``, as public drivers often do.
Ends with one JSON line of all figures.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware_bridge.protocols import NAMES, get_spec
from firmware_bridge.protocols.base import DeviceState

SIZE = 1 << 20
CHUNK = 4096


def _stream(name: str) -> tuple[bytes, int]:
    spec = get_spec(name)
    rng = random.Random(name)
    parts = []
    total = 0
    while total < SIZE:
        state = DeviceState(rng.randint(0, 150_000), rng.random() < 0.7, rng.random() < 0.3)
        frame = spec.encode(state, spec.default_unit)
        parts.append(frame)
        total += len(frame)
    return b"".join(parts), len(parts)


def _best(fn: object, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    figures: dict[str, object] = {}
    for name in NAMES:
        data, frames = _stream(name)
        spec = get_spec(name)

        def run(data: bytes = data, spec: object = spec) -> None:
            parser = spec.new_parser()  # type: ignore[attr-defined]
            for i in range(0, len(data), CHUNK):
                parser.feed(data[i : i + CHUNK])

        secs = _best(run)
        mbps = len(data) / secs / 1e6
        print(f"{name:10s} {mbps:7.2f} MB/s  {frames / secs:10.0f} frames/s")
        figures[f"{name}_mb_s"] = round(mbps, 2)
        figures[f"{name}_frames_s"] = round(frames / secs)
    data, frames = _stream("ad")
    pattern = re.compile(rb"(ST|US|OL),(GS|NT),([+-][0-9. ]+)(kg|g)")

    def naive() -> None:
        buf = b""
        for i in range(0, len(data), CHUNK):
            buf += data[i : i + CHUNK]
            *lines, buf = buf.split(b"\r\n")
            for line in lines:
                m = pattern.search(line)
                if m:
                    float(m.group(3).replace(b" ", b""))

    secs = _best(naive)
    peer = len(data) / secs / 1e6
    print(f"peer naive split+regex+float (ad): {peer:7.2f} MB/s "
          f"(ours/peer {figures['ad_mb_s'] / peer:.2f})")  # type: ignore[operator]
    figures["peer_naive_ad_mb_s"] = round(peer, 2)
    print(json.dumps({"bench": "scale_parsers", **figures}))


if __name__ == "__main__":
    main()
