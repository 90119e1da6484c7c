"""Barcode images made here, for the synthetic camera, the tests and the benchmark.

zxing-cpp writes the symbols (no network, no image files shipped); OpenCV and
numpy put them on a textured background and distort them the way a camera over
a scale does: size, rotation, blur, noise, low contrast, perspective.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from edge.codes.gs1 import GS, GS1_SYMBOLOGY_IDS, needs_separator, parse_bracketed
from edge.vision.decode import Decoded, Image

_CREATE = {
    "ean-13": "EAN13", "ean-8": "EAN8", "upc-a": "UPCA", "code-128": "Code128", "qr-code": "QRCode",
    "data-matrix": "DataMatrix", "databar-expanded": "DataBarExp", "code-39": "Code39",
}


def is_bracketed_gs1(text: str) -> bool:
    return text.startswith("(") and ")" in text[:6]


def element_string(bracketed: str) -> str:
    """The element string a GS1 symbol carries for a bracketed text (GS after variable fields)."""
    pairs = list(parse_bracketed(bracketed, 2026).ais.items())
    out = []
    for i, (ai, value) in enumerate(pairs):
        out.append(ai + value)
        if needs_separator(ai) and i < len(pairs) - 1:
            out.append(GS)
    return "".join(out)


def symbol(text: str, fmt: str, scale: int = 3) -> Image:
    """A clean symbol with quiet zone: black on white, ``scale`` pixels per module."""
    import zxingcpp

    zfmt = getattr(zxingcpp.BarcodeFormat, _CREATE[fmt])
    if is_bracketed_gs1(text):
        bc = zxingcpp.create_barcode(text, zfmt, gs1=True)
    else:
        bc = zxingcpp.create_barcode(text, zfmt)
    return np.array(bc.to_image(scale=scale), dtype=np.uint8)


def background(height: int, width: int, rng: np.random.Generator) -> Image:
    """A smooth grey texture (blurred noise) like a scale pan with shadows."""
    import cv2

    small = rng.integers(70, 190, size=(max(2, height // 40), max(2, width // 40)), dtype=np.uint8)
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC), np.uint8)


@dataclass(frozen=True)
class Distortion:
    """How one test image departs from a clean, upright, sharp symbol."""

    rotation_deg: float = 0.0
    blur_sigma: float = 0.0
    noise_sigma: float = 0.0
    contrast: float = 1.0  # 1.0 full black/white; 0.35 = dark grey on light grey
    perspective: float = 0.0  # corner jitter as a fraction of the symbol size

    def label(self) -> str:
        return (
            f"rot{self.rotation_deg:+.0f} blur{self.blur_sigma:.1f} noise{self.noise_sigma:.0f} "
            f"contrast{self.contrast:.2f} persp{self.perspective:.2f}"
        )


def compose(
    sym: Image, canvas_hw: tuple[int, int], d: Distortion, rng: np.random.Generator,
    center: tuple[float, float] | None = None,
) -> Image:
    """Place ``sym`` on a textured canvas with the given distortion; returns 8-bit grey."""
    import cv2

    h, w = canvas_hw
    mid = 127.5
    sym_f = (sym.astype(np.float32) - mid) * d.contrast + mid
    sh, sw = sym.shape
    corners = [(0.0, 0.0), (float(sw), 0.0), (float(sw), float(sh)), (0.0, float(sh))]
    cx, cy = center if center else (w / 2, h / 2)
    ang = math.radians(d.rotation_deg)
    ca, sa = math.cos(ang), math.sin(ang)
    dst = []
    for x, y in corners:
        px, py = x - sw / 2, y - sh / 2
        jx, jy = (float(v) * d.perspective * max(sw, sh) for v in rng.uniform(-1, 1, 2))
        dst.append([cx + px * ca - py * sa + jx, cy + px * sa + py * ca + jy])
    src = np.array(corners, dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, np.array(dst, dtype=np.float32))
    warped = cv2.warpPerspective(sym_f, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=-1.0)
    mask = cv2.warpPerspective(
        np.ones_like(sym_f), m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0.0
    )
    out = np.where(mask > 0.5, warped, background(h, w, rng).astype(np.float32))
    if d.blur_sigma > 0:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), d.blur_sigma), np.float32)
    if d.noise_sigma > 0:
        out = out + rng.normal(0, d.noise_sigma, out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


# The distorted set: what the tests assert on and the benchmark reports.
SET_CODES: tuple[tuple[str, str], ...] = (
    ("ean-13", "6901234567892"),
    ("ean-13", "9521234543213"),
    ("code-128", "(01)09521234543213(17)261231(10)B2411"),
    ("code-128", "(01)09521234543213(3103)001250(10)L7"),
    ("code-128", "SUP-0031-PALLET-77"),
    ("qr-code", 'ADN1:{"dn":"DN-7","order_id":"PO-20261128-0012","supplier_id":"sup-0031",'
                '"lines":[{"line_id":"1","qty":"30","unit":"jin"}]}'),
    ("qr-code", "STAFF-A1234"),
    ("data-matrix", "(01)09521234543213(17)261231(10)B2411(21)S0042"),
    ("data-matrix", "(01)06901234567892(3102)012345"),
)


@dataclass(frozen=True)
class Sample:
    image: Image
    format: str
    expected: str  # what a decoder must return, less any GS1 symbology id prefix
    label: str


def expected_text(text: str) -> str:
    return element_string(text) if is_bracketed_gs1(text) else text


def fit_scale(
    sym1: Image, module_px: float, canvas_hw: tuple[int, int], rotation_deg: float
) -> float:
    """``module_px``, reduced if needed so the rotated symbol fits in 90 % of the canvas."""
    h, w = sym1.shape
    a = math.radians(abs(rotation_deg))
    bw = w * math.cos(a) + h * math.sin(a)
    bh = w * math.sin(a) + h * math.cos(a)
    limit = min(0.9 * canvas_hw[1] / bw, 0.9 * canvas_hw[0] / bh)
    return float(min(module_px, limit))


def scaled(sym1: Image, factor: float) -> Image:
    """A scale-1 symbol resized to ``factor`` pixels per module (area-averaged edges)."""
    import cv2

    h, w = sym1.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(sym1, size, interpolation=interp), np.uint8)


def distorted_set(seed: int = 7, per_code: int = 20) -> Iterator[Sample]:
    """``per_code`` images of each code in SET_CODES, on a 640x480 canvas.

    Module sizes 2-3 px (1D) or 3-5 px (2D), rotation up to 30°, blur up to a
    third of a module, noise up to sigma 10, contrast down to 0.4 and
    perspective up to 6 %, drawn from a seeded generator so every run sees the
    same set. A wide 1D symbol is shrunk until it fits in the frame rotated.
    """
    rng = np.random.default_rng(seed)
    canvas = (480, 640)
    for fmt, text in SET_CODES:
        modules = (3.0, 4.0, 5.0) if fmt in ("qr-code", "data-matrix") else (2.0, 2.5, 3.0)
        sym1 = symbol(text, fmt, 1)
        if fmt in ("ean-13", "code-128"):
            # Bars as tall as 0.6 x the width: a scan line at 30° still crosses them all.
            sym1 = np.repeat(sym1[:1], max(20, int(sym1.shape[1] * 0.6)), axis=0)
        sym1 = np.pad(sym1, 3, constant_values=255)  # the label's paper
        for i in range(per_code):
            rot = float(rng.uniform(-30, 30))
            px = fit_scale(sym1, modules[i % len(modules)], canvas, rot)
            d = Distortion(
                rotation_deg=rot,
                blur_sigma=float(rng.choice([0.0, 0.15, 0.25])) * px,
                noise_sigma=float(rng.uniform(0, 8)),
                contrast=float(rng.choice([1.0, 0.7, 0.5])),
                perspective=float(rng.uniform(0, 0.06)),
            )
            img = compose(scaled(sym1, px), canvas, d, rng)
            yield Sample(img, fmt, expected_text(text), f"{fmt} module{px:.1f} {d.label()}")


def read_rate(
    decode: Callable[[Image], list[Decoded]], samples: Iterable[Sample]
) -> tuple[float, dict[str, float]]:
    """Share of samples whose expected text ``decode`` returns: overall and per format.

    A GS1 symbology id prefix is ignored, so backends that drop it compare equal.
    """
    ok: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    for s in samples:
        texts = {d.text[3:] if d.text[:3] in GS1_SYMBOLOGY_IDS else d.text for d in decode(s.image)}
        total[s.format] += 1
        ok[s.format] += s.expected in texts
    n = sum(total.values())
    return (sum(ok.values()) / n if n else 0.0), {f: ok[f] / total[f] for f in sorted(total)}
