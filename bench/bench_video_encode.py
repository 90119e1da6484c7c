"""Clip encoding speed, CPU share and size: H.264 (libx264 ultrafast) in fragmented MP4 via PyAV.

The station's own path per frame: camera frame (greyscale, synthetic source
with sensor noise) -> burned-in CJK caption (Pillow band, cached per text) ->
RGB -> yuv420p -> libx264 (one thread) -> fragmented MP4. Measured at 640x480
and 1280x720: the highest frame rate on one core (frames as fast as it goes),
the CPU share needed for 15 fps (CPU seconds per frame x 15), both alone and
while the barcode decoder runs on the same frames in another thread (the
station does both). Bytes per minute from the clip's own timestamps at 15 fps.
Ends with one JSON line holding every figure.

    .venv/bin/python bench/bench_video_encode.py [--seconds 4]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge.video.caption import burn, caption_lines
from edge.video.config import CJK_FONT
from edge.video.encoder import ClipWriter
from edge.vision.config import DecoderSection
from edge.vision.frame_decoder import FrameDecoder
from edge.vision.sources import SyntheticSource

FPS = 15


def frames(w: int, h: int, n: int = 45) -> list[Any]:
    src = SyntheticSource(["(01)09521234543213(17)261231(10)B2411"], "code-128", w, h)
    src.open()
    return [src.read() for _ in range(n)]


def encode(w: int, h: int, seconds: float, with_decoder: bool) -> dict[str, float]:
    imgs = frames(w, h)
    stop = threading.Event()
    decoded = [0]

    def decode_loop() -> None:
        dec = FrameDecoder(DecoderSection())
        i = 0
        while not stop.is_set():
            dec(imgs[i % len(imgs)])
            decoded[0] += 1
            i += 1

    t = threading.Thread(target=decode_loop, daemon=True)
    if with_decoder:
        t.start()
    with tempfile.TemporaryDirectory() as d:
        writer = ClipWriter(Path(d) / "b.mp4", w, h, fps=FPS)
        n = 0
        c0, w0 = time.thread_time(), time.perf_counter()
        while time.perf_counter() - w0 < seconds:
            text = caption_lines(clock=f"2026-11-28 12:00:{n // FPS % 60:02d}", supplier="绿源蔬菜",
                                 item="土豆", weight=f"{30.4 + n % 7 / 100:.2f} 斤", result=None)
            writer.write(burn(imgs[n % len(imgs)], text, CJK_FONT), n * 1000 // FPS)
            n += 1
        clip = writer.close()
        cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
    stop.set()
    if with_decoder:
        t.join()
    per_frame = cpu / n
    return {"fps": round(n / wall, 1), "cpu_share_at_15fps": round(per_frame * FPS, 3),
            "bytes_per_min": int(clip.bytes / (clip.duration_ms / 60000)),
            "decoder_fps": round(decoded[0] / wall, 1) if with_decoder else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()
    out: dict[str, Any] = {"codec": "h264 libx264 ultrafast crf28 fmp4", "fps_target": FPS}
    for w, h in ((640, 480), (1280, 720)):
        for dec in (False, True):
            r = encode(w, h, args.seconds, dec)
            key = f"{w}x{h}" + ("_with_decoder" if dec else "")
            print(f"{key:>26}: {r['fps']:6.1f} fps max, CPU share at 15 fps "
                  f"{r['cpu_share_at_15fps']:.2f} core, {r['bytes_per_min'] / 1e6:.1f} MB/min"
                  + (f", decoder {r['decoder_fps']} fps alongside" if dec else ""))
            out[key] = r
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
