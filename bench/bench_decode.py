"""Decode speed and success of zxing-cpp and pyzbar, side by side in one run.

Milliseconds per frame (median and p90) through the station's own path
(BGR frame -> greyscale -> downscale -> decode with the default formats) at
640x480 and 1280x720, with a code in view and without; then the success rate
of each backend on the rendered distorted set the tests use. Ends with one
JSON line holding every figure.

    .venv/bin/python bench/bench_decode.py [--frames 40]
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import time

import cv2
import numpy as np

from edge.codes.gs1 import GS1_SYMBOLOGY_IDS
from edge.vision.config import DecoderSection
from edge.vision.decode import BACKENDS, FrameDecoder, make_decoder
from edge.vision.render import Distortion, background, compose, distorted_set, symbol

IN_VIEW = (
    ("ean-13", "6901234567892", 3),
    ("code-128", "(01)09521234543213(17)261231(10)B2411", 2),
    ("qr-code", "STAFF-A1234", 5),
    ("data-matrix", "(01)09521234543213(17)261231(10)B2411(3103)001250", 5),
)


def frames(width: int, height: int, with_code: bool, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        if with_code:
            fmt, text, scale = IN_VIEW[i % len(IN_VIEW)]
            sym = np.pad(symbol(text, fmt, scale), 12, constant_values=255)
            d = Distortion(rotation_deg=float(rng.uniform(-15, 15)), noise_sigma=4.0)
            grey = compose(sym, (height, width), d, rng)
        else:
            grey = background(height, width, rng)
            grey = np.clip(grey + rng.normal(0, 4, grey.shape), 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    return out


def time_backend(backend: str, imgs: list[np.ndarray]) -> tuple[float, float, int]:
    dec = FrameDecoder(DecoderSection(), backend)
    dec(imgs[0])  # warm-up
    times, found = [], 0
    for img in imgs:
        t0 = time.perf_counter()
        res = dec(img)
        times.append((time.perf_counter() - t0) * 1000)
        found += bool(res)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], found


def success_rates() -> dict[str, dict[str, float]]:
    samples = list(distorted_set())
    formats = sorted({s.format for s in samples})
    kinds = collections.Counter(s.format for s in samples)
    out: dict[str, dict[str, float]] = {}
    for backend in BACKENDS:
        dec = make_decoder(backend, formats)
        ok: collections.Counter[str] = collections.Counter()
        for s in samples:
            texts = {d.text[3:] if d.text[:3] in GS1_SYMBOLOGY_IDS else d.text
                     for d in dec.decode(s.image)}
            ok[s.format] += s.expected in texts
        out[backend] = {"all": round(sum(ok.values()) / len(samples), 4)}
        out[backend].update({f: round(ok[f] / kinds[f], 4) for f in formats})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40, help="frames per condition")
    args = ap.parse_args()
    figures: dict[str, object] = {"frames_per_condition": args.frames}
    head = "  ".join(f"{b + ' med/p90 ms':>20}" for b in BACKENDS)
    print(f"{'resolution':<10} {'code':<8} {head}   ratio (pyzbar/zxing median)")
    for w, h in ((640, 480), (1280, 720)):
        for with_code in (True, False):
            imgs = frames(w, h, with_code, args.frames)
            row = {}
            for backend in BACKENDS:
                med, p90, found = time_backend(backend, imgs)
                row[backend] = (med, p90, found)
                key = f"{backend}_{w}x{h}_{'code' if with_code else 'empty'}"
                figures[key + "_median_ms"] = round(med, 2)
                figures[key + "_p90_ms"] = round(p90, 2)
                if with_code:
                    figures[key + "_frames_read"] = found
            ratio = row["pyzbar"][0] / row["zxing"][0]
            cells = "  ".join(f"{row[b][0]:>9.2f}/{row[b][1]:<9.2f} " for b in BACKENDS)
            res = f"{w}x{h}"
            print(f"{res:<10} {'yes' if with_code else 'no':<8} {cells}  {ratio:5.2f}x"
                  + (f"   read {row['zxing'][2]}/{len(imgs)} vs {row['pyzbar'][2]}/{len(imgs)}"
                     if with_code else ""))
    rates = success_rates()
    for backend, r in rates.items():
        per = ", ".join(f"{k} {v:.1%}" for k, v in r.items() if k != "all")
        print(f"distorted set, {backend}: {r['all']:.1%} ({per})")
        figures[f"{backend}_distorted_success"] = r["all"]
        figures[f"{backend}_distorted_by_format"] = {k: v for k, v in r.items() if k != "all"}
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
