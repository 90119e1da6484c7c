"""Burned-in captions in Chinese: Pillow draws the text (OpenCV's fonts have no CJK).

The caption is a band along the bottom of the frame. Rendering text is the
costly part, so a band is rendered once per distinct text and pasted into
every frame that shows the same text (the time changes once a second, the
live weight a few times a second).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

Caption = tuple[str, ...]  # lines of text, top to bottom


@lru_cache(maxsize=8)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def band_height(frame_h: int, lines: int) -> int:
    return lines * line_height(frame_h) + 8


def line_height(frame_h: int) -> int:
    return max(14, frame_h // 24)


@lru_cache(maxsize=64)
def _band(text: Caption, width: int, frame_h: int, font_path: str) -> npt.NDArray[np.uint8]:
    lh = line_height(frame_h)
    img = Image.new("RGB", (width, band_height(frame_h, len(text))), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    font = _font(font_path, lh - 4)
    for i, line in enumerate(text):
        colour = (255, 255, 255)
        if "拒收" in line:
            colour = (255, 80, 80)
        elif "验收合格" in line:
            colour = (80, 255, 120)
        draw.text((6, 4 + i * lh), line, font=font, fill=colour)
    return np.asarray(img, dtype=np.uint8)


def to_rgb(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Camera frames are greyscale or BGR; the encoder takes RGB."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, ::-1])


def burn(image: npt.NDArray[np.uint8], text: Caption, font_path: Path) -> npt.NDArray[np.uint8]:
    """An RGB copy of ``image`` with the caption band drawn over its bottom."""
    rgb = to_rgb(image)
    if not text:
        return rgb
    h, w = rgb.shape[:2]
    band = _band(text, w, h, str(font_path))
    bh = min(band.shape[0], h)
    rgb[h - bh:, :, :] = band[:bh]
    return rgb


def caption_lines(*, clock: str, supplier: str | None, item: str | None, weight: str | None,
                  result: str | None) -> Caption:
    """The caption's text (pure): time; supplier, item and weight (in the order's unit); result.

    No station id or other code: the clips play on the hall screen.
    """
    lines = [f"{clock}  食材验收",
             f"供应商 {supplier or '—'}  品名 {item or '—'}  净重 {weight or '—'}"]
    if result:
        lines.append(result)
    return tuple(lines)


def neutral(text: Caption) -> Caption:
    """What a frame filmed before a clip began shows in that clip: the time line only.

    The ring buffer's frames were captioned for whatever was on the scale then (the
    previous item and its verdict); the pre-roll of the next clip must not carry them.
    """
    return text[:1]
