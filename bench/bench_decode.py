"""Decode speed and success of zxing-cpp and pyzbar, side by side in one run.

Milliseconds per frame (median and p90) through the station's own path
(BGR frame -> greyscale -> downscale -> decode with the default formats) at
640x480 and 1280x720, with a code in view and without, for: zxing as the live
camera runs it (binarizers alternating, one pass per frame), zxing as still
images run it (fallback to the second binarizer when the first finds
nothing), and pyzbar. Then the success rate of each on the rendered
distorted set the tests use. Ends with one
JSON line holding every figure.

    .venv/bin/python bench/bench_decode.py [--frames 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import cv2
import numpy as np

from edge.vision.config import DecoderSection
from edge.vision.decode import FrameDecoder, ZxingDecoder
from edge.vision.render import (
    Distortion,
    background,
    compose,
    distorted_set,
    fit_scale,
    read_rate,
    scaled,
    symbol,
)

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
            rot = float(rng.uniform(-15, 15))
            sym1 = np.pad(symbol(text, fmt, 1), 6, constant_values=255)
            if fmt in ("ean-13", "code-128"):
                sym1 = np.repeat(sym1[6:7], int(sym1.shape[1] * 0.5), axis=0)
            sym = scaled(sym1, fit_scale(sym1, scale, (height, width), rot))
            d = Distortion(rotation_deg=rot, noise_sigma=4.0)
            grey = compose(sym, (height, width), d, rng)
        else:
            grey = background(height, width, rng)
            grey = np.clip(grey + rng.normal(0, 4, grey.shape), 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    return out


# (label, backend, strategy): the live default, the still-image path, the peer.
VARIANTS = (
    ("zxing_live", "zxing", "alternate"),
    ("zxing_still", "zxing", "fallback"),
    ("pyzbar", "pyzbar", "fallback"),
)


def time_variant(backend: str, strategy: str, imgs: list[np.ndarray]) -> tuple[float, float, int]:
    dec = FrameDecoder(DecoderSection(), backend, strategy)
    dec(imgs[0])  # warm-up
    times, found = [], 0
    for img in imgs:
        t0 = time.perf_counter()
        res = dec(img)
        times.append((time.perf_counter() - t0) * 1000)
        found += bool(res)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], found


def success_rates() -> dict[str, tuple[float, dict[str, float]]]:
    samples = list(distorted_set())
    formats = sorted({s.format for s in samples})
    return {
        "zxing_still": read_rate(FrameDecoder(DecoderSection(formats=formats), "zxing",
                                              "fallback"), samples),
        "zxing_local_average_only": read_rate(ZxingDecoder(formats, "local-average").decode,
                                              samples),
        "zxing_fixed_threshold_only": read_rate(ZxingDecoder(formats, "fixed-threshold").decode,
                                                samples),
        "pyzbar": read_rate(FrameDecoder(DecoderSection(formats=formats), "pyzbar"), samples),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40, help="frames per condition")
    args = ap.parse_args()
    figures: dict[str, object] = {"frames_per_condition": args.frames}
    head = "  ".join(f"{v[0] + ' med/p90':>20}" for v in VARIANTS)
    print(f"{'resolution':<10} {'code':<5} {head}   pyzbar/zxing_live   frames read")
    for w, h in ((640, 480), (1280, 720)):
        for with_code in (True, False):
            imgs = frames(w, h, with_code, args.frames)
            row = {}
            for label, backend, strategy in VARIANTS:
                med, p90, found = time_variant(backend, strategy, imgs)
                row[label] = (med, p90, found)
                key = f"{label}_{w}x{h}_{'code' if with_code else 'empty'}"
                figures[key + "_median_ms"] = round(med, 2)
                figures[key + "_p90_ms"] = round(p90, 2)
                if with_code:
                    figures[key + "_frames_read"] = found
            ratio = row["pyzbar"][0] / row["zxing_live"][0]
            cells = "  ".join(f"{row[v[0]][0]:>10.2f}/{row[v[0]][1]:<9.2f}" for v in VARIANTS)
            reads = " ".join(f"{row[v[0]][2]}/{len(imgs)}" for v in VARIANTS) if with_code else ""
            res = f"{w}x{h}"
            print(f"{res:<10} {'yes' if with_code else 'no':<5} {cells}   {ratio:8.2f}x"
                  f"          {reads}")
    for name, (rate, per) in success_rates().items():
        shown = ", ".join(f"{k} {v:.1%}" for k, v in per.items())
        print(f"distorted set, {name}: {rate:.1%} ({shown})")
        figures[f"{name}_distorted_success"] = round(rate, 4)
        figures[f"{name}_distorted_by_format"] = {k: round(v, 4) for k, v in per.items()}
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
