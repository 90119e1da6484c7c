"""The hard distorted set: rendered codes with the faults of real photos.

Every format the station reads (EAN-13, EAN-8, UPC-A, Code 128, GS1-128, QR,
GS1 DataMatrix, GS1 DataBar Expanded) is rendered by zxing-cpp and then hurt
by one fault at a seeded random strength, on top of a small tilt and sensor
noise: Gaussian blur, motion blur, strong perspective, low contrast, glare
(a washed-out highlight), uneven light (a shadow across the label), JPEG at
low quality, small modules (down to one pixel), partial occlusion (a finger,
a strip of tape) and a curved surface (a bottle or a bag). The strengths run
from easy to past what any decoder reads, so the set separates decoders
instead of flattering them. Used by the tests (the pass choice must pay off
here) and by ``bench/bench_decode.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from edge.vision.decode import Image
from edge.vision.render import Distortion, Sample, background, compose, expected_text, symbol

F32 = np.ndarray  # float32 images between the steps

CODES: tuple[tuple[str, str], ...] = (
    ("ean-13", "6901234567892"),
    ("ean-8", "96385074"),
    ("upc-a", "036000291452"),
    ("code-128", "SUP-0031-PALLET-77"),
    ("code-128", "(01)09521234543213(17)261231(10)B2411"),
    ("qr-code", "https://zsl.zjamr.zj.gov.cn/trace?code=330106202611280012"),
    ("qr-code", "STAFF-A1234"),
    ("data-matrix", "(01)09521234543213(17)261231(10)B2411(21)S0042"),
    ("databar-expanded", "(01)09521234543213(3103)001250(10)L7"),
)
FAULTS = ("blur", "motion", "perspective", "contrast", "glare", "uneven", "jpeg", "small",
          "occlusion", "curve")
CANVAS = (320, 480)  # height, width: a region of interest around the label, not a whole frame
_MATRIX = ("qr-code", "data-matrix")


def label(text: str, fmt: str, module_px: float) -> F32:
    """The symbol on its white label paper, ``module_px`` pixels per module (float32)."""
    import cv2

    sym = symbol(text, fmt, 1)
    if fmt in ("ean-13", "ean-8", "upc-a", "code-128", "databar-expanded"):
        bar_h = max(18, int(sym.shape[1] * (0.25 if fmt == "databar-expanded" else 0.45)))
        sym = np.repeat(sym[sym.shape[0] // 2: sym.shape[0] // 2 + 1], bar_h, axis=0)
    sym = np.pad(sym, 4 if fmt in _MATRIX else 8, constant_values=255)
    h, w = sym.shape
    size = (max(1, round(w * module_px)), max(1, round(h * module_px)))
    interp = cv2.INTER_AREA if module_px < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(sym.astype(np.float32), size, interpolation=interp), np.float32)


def occlude(lab: F32, s: float, rng: np.random.Generator) -> F32:
    """A finger or a strip of tape over part of the label (``s`` = share of the width)."""
    out = lab.copy()
    h, w = out.shape
    cw, ch = max(2, int(w * s)), max(2, int(h * rng.uniform(0.3, 0.6)))
    x, y = int(rng.integers(0, max(1, w - cw))), int(rng.integers(0, max(1, h - ch)))
    out[y:y + ch, x:x + cw] = float(rng.choice([40.0, 150.0, 230.0]))
    return out


def curve(lab: F32, s: float) -> F32:
    """The label wrapped round a cylinder (bottle, bag): edges squeezed and shaded."""
    import cv2

    h, w = lab.shape
    half = math.pi / 2 * s  # angle the label spans on each side of the middle
    xs = np.linspace(-1.0, 1.0, w, dtype=np.float32)
    src = (np.arcsin(np.clip(xs * math.sin(half), -1, 1)) / half + 1) * (w - 1) / 2
    map_x = np.repeat(src[None, :], h, axis=0).astype(np.float32)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    out = cv2.remap(lab, map_x, map_y, cv2.INTER_LINEAR, borderValue=255.0)
    shade = 0.55 + 0.45 * np.cos(xs * half)
    return np.asarray(out * shade[None, :], np.float32)


def glare(img: F32, s: float, rng: np.random.Generator) -> F32:
    """A specular highlight: a bright blob that saturates part of the label."""
    h, w = img.shape
    cy, cx = h / 2 + rng.uniform(-0.15, 0.15) * h, w / 2 + rng.uniform(-0.2, 0.2) * w
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = min(h, w) * rng.uniform(0.12, 0.25)
    blob = np.exp(-(((xx - cx) / (1.6 * r)) ** 2 + ((yy - cy) / r) ** 2))
    return np.asarray(img + blob * 255 * s, np.float32)


def uneven(img: F32, s: float, rng: np.random.Generator) -> F32:
    """A shadow edge across the label: one side down to ``1 - s`` of its light."""
    h, w = img.shape
    ang = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = ((xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang)) / (0.12 * max(h, w))
    light = 1 - s / (1 + np.exp(-t))
    return np.asarray(img * light, np.float32)


def motion(img: F32, length: float, rng: np.random.Generator) -> F32:
    """A linear motion blur ``length`` pixels long in a random direction."""
    import cv2

    n = max(3, round(length) | 1)
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    k = np.asarray(cv2.warpAffine(k, rot, (n, n)), np.float32)
    return np.asarray(cv2.filter2D(img, -1, k / max(float(k.sum()), 1e-6)), np.float32)


def jpeg(img: Image, quality: int) -> Image:
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.asarray(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), np.uint8)


def _module(fmt: str, fault: str, s: float) -> float:
    if fault == "small":
        return 1.1 + 0.8 * (1 - s) if fmt not in _MATRIX else 1.5 + 1.0 * (1 - s)
    return 2.5 if fmt not in _MATRIX else 3.5


def make_image(fmt: str, text: str, fault: str, s: float, rng: np.random.Generator) -> Image:
    """One image of ``text`` as ``fmt`` hurt by ``fault`` at strength ``s`` (0 mild .. 1 severe)."""
    import cv2

    px = _module(fmt, fault, s)
    lab = label(text, fmt, px)
    if fault == "occlusion":
        lab = occlude(lab, 0.08 + 0.22 * s, rng)
    elif fault == "curve":
        lab = curve(lab, 0.45 + 0.5 * s)
    h, w = CANVAS
    fit = min(0.85 * w / lab.shape[1], 0.85 * h / lab.shape[0], 1.0)
    if fit < 1.0:
        lab = np.asarray(cv2.resize(lab, None, fx=fit, fy=fit, interpolation=cv2.INTER_AREA),
                         np.float32)
    d = Distortion(
        rotation_deg=float(rng.uniform(-8, 8)),
        perspective=0.07 + 0.13 * s if fault == "perspective" else float(rng.uniform(0, 0.03)),
        contrast=0.3 - 0.18 * s if fault == "contrast" else 1.0,
        blur_sigma=(0.25 + 0.35 * s) * px if fault == "blur" else 0.0,
        noise_sigma=float(rng.uniform(2, 5)),
    )
    img = compose(np.clip(lab, 0, 255).astype(np.uint8), CANVAS, d, rng).astype(np.float32)
    steps: dict[str, Callable[[F32], F32]] = {
        "glare": lambda im: glare(im, 0.55 + 0.6 * s, rng),
        "uneven": lambda im: uneven(im, 0.6 + 0.32 * s, rng),
        "motion": lambda im: motion(im, (0.8 + 1.4 * s) * px, rng),
    }
    if fault in steps:
        img = steps[fault](img)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if fault == "jpeg":
        out = jpeg(out, round(14 - 10 * s))
    return out


def hard_set(seed: int = 14, per_pair: int = 2) -> Iterator[Sample]:
    """``per_pair`` images of every (code, fault) pair, strengths drawn from a seeded generator."""
    rng = np.random.default_rng(seed)
    for fmt, text in CODES:
        for fault in FAULTS:
            for _ in range(per_pair):
                s = float(rng.uniform(0, 1))
                img = make_image(fmt, text, fault, s, rng)
                yield Sample(img, fmt, expected_text(text), f"{fmt} {fault} {s:.2f}")


def empty_image(rng: np.random.Generator, hw: tuple[int, int] = CANVAS) -> Image:
    """A frame with no code: textured background and noise (the budget case)."""
    bg = background(hw[0], hw[1], rng).astype(np.float32)
    return np.clip(bg + rng.normal(0, 4, bg.shape), 0, 255).astype(np.uint8)
