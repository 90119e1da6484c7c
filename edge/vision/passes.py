"""The ensemble's passes: an image transform and a decoder, each a small pure step.

A pass takes the preprocessed greyscale image (or a candidate region of it),
transforms it — contrast normalisation (CLAHE), sharpening, upscaling, another
binarizer, a rotation, inversion — and runs zxing-cpp or pyzbar on the result.
Outlines come back in the coordinates of the image the pass was given, so
reads of one symbol by different passes can be compared. Which passes the
station runs, and in what order, was chosen by measurement (docs/vision.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edge.vision.decode import Decoded, Decoder, Image, PyzbarDecoder, ZxingDecoder

Transform = Callable[[Image], Image]
Engine = Literal["zxing", "zxing-fixed", "zxing-histogram", "pyzbar"]


def identity(grey: Image) -> Image:
    return grey


def clahe(grey: Image) -> Image:
    """Contrast-limited adaptive histogram equalisation: dim or unevenly lit labels."""
    import cv2

    eq = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    return np.asarray(eq.apply(grey), np.uint8)


def sharpen(grey: Image) -> Image:
    """Unsharp mask: steepens the edges a little blur or JPEG smeared."""
    import cv2

    soft = cv2.GaussianBlur(grey, (0, 0), 1.5)
    return np.asarray(cv2.addWeighted(grey, 2.0, soft, -1.0, 0), np.uint8)


def upscale(grey: Image) -> Image:
    """2x bicubic: small modules get enough pixels for the detector."""
    import cv2

    return np.asarray(cv2.resize(grey, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), np.uint8)


def upscale_sharpen(grey: Image) -> Image:
    return sharpen(upscale(grey))


def adaptive(grey: Image) -> Image:
    """OpenCV's Gaussian adaptive threshold (a binarizer zxing-cpp does not have)."""
    import cv2

    return np.asarray(cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C,
                                            cv2.THRESH_BINARY, 31, 5), np.uint8)


def invert(grey: Image) -> Image:
    """Light symbols on a dark ground."""
    return np.asarray(255 - grey, np.uint8)


def rotate45(grey: Image) -> Image:
    """A 45-degree turn (the canvas grows to keep the corners): steeply tilted 1D codes."""
    import cv2

    h, w = grey.shape
    side = math.ceil(math.hypot(h, w))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 45, 1.0)
    m[0, 2] += (side - w) / 2
    m[1, 2] += (side - h) / 2
    return np.asarray(cv2.warpAffine(grey, m, (side, side), borderValue=255), np.uint8)


def unrotate45(shape: tuple[int, int], pts: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Points found in ``rotate45(grey)`` mapped back onto ``grey`` (of ``shape``)."""
    h, w = shape
    side = math.ceil(math.hypot(h, w))
    c, s = math.cos(math.radians(45)), math.sin(math.radians(45))
    out = []
    for x, y in pts:
        dx, dy = x - side / 2, y - side / 2
        out.append((round(w / 2 + c * dx - s * dy), round(h / 2 + s * dx + c * dy)))
    return tuple(out)


@dataclass(frozen=True)
class PassSpec:
    """What one pass does: ``transform`` then ``engine``; ``scale`` undoes a resize."""

    transform: Transform
    engine: Engine
    scale: float = 1.0  # transformed pixels per input pixel
    regional: bool = False  # run on candidate regions, not the whole image (costly passes)
    rotated: bool = False
    description: str = ""


PASSES: dict[str, PassSpec] = {
    "zxing": PassSpec(identity, "zxing", description="zxing-cpp, local-average binarizer"),
    "zxing-fixed": PassSpec(identity, "zxing-fixed", description="zxing-cpp, fixed threshold"),
    "zxing-histogram": PassSpec(identity, "zxing-histogram",
                                description="zxing-cpp, global histogram binarizer"),
    "pyzbar": PassSpec(identity, "pyzbar", regional=True, description="pyzbar (ZBar) on regions"),
    "clahe": PassSpec(clahe, "zxing", description="CLAHE, then zxing-cpp"),
    "clahe-pyzbar": PassSpec(clahe, "pyzbar", description="CLAHE, then pyzbar"),
    "sharpen": PassSpec(sharpen, "zxing", description="unsharp mask, then zxing-cpp"),
    "sharpen-pyzbar": PassSpec(sharpen, "pyzbar", regional=True, description="unsharp mask, then pyzbar"),
    "upscale": PassSpec(upscale, "zxing", 2.0, True, description="regions 2x, then zxing-cpp"),
    "upscale-sharpen": PassSpec(upscale_sharpen, "zxing", 2.0, True,
                                description="regions 2x and unsharp mask, then zxing-cpp"),
    "upscale-pyzbar": PassSpec(upscale, "pyzbar", 2.0, True,
                               description="regions 2x, then pyzbar"),
    "adaptive": PassSpec(adaptive, "zxing-fixed", description="OpenCV adaptive threshold"),
    "rotate-45": PassSpec(rotate45, "zxing", rotated=True, description="turned 45 degrees"),
    "invert": PassSpec(invert, "zxing", description="inverted (light on dark)"),
}
PASS_NAMES = tuple(PASSES)


def engines(formats: Sequence[str]) -> dict[str, Decoder]:
    """One decoder per engine name, restricted to ``formats``."""
    return {
        "zxing": ZxingDecoder(formats, "local-average"),
        "zxing-fixed": ZxingDecoder(formats, "fixed-threshold"),
        "zxing-histogram": ZxingDecoder(formats, "global-histogram"),
        "pyzbar": PyzbarDecoder(formats),
    }


def run_pass(spec: PassSpec, dec: Decoder, grey: Image, name: str) -> list[Decoded]:
    """The pass on ``grey``: codes with outlines in ``grey``'s pixels, tagged with ``name``."""
    found = dec.decode(np.ascontiguousarray(spec.transform(grey)))
    out = []
    for d in found:
        pts = d.corners
        if spec.rotated:
            pts = unrotate45((grey.shape[0], grey.shape[1]), pts)
        elif spec.scale != 1.0:
            pts = tuple((round(x / spec.scale), round(y / spec.scale)) for x, y in pts)
        out.append(Decoded(d.format, d.text, pts, name))
    return out
