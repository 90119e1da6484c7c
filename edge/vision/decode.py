"""Decoders behind one interface: zxing-cpp and pyzbar.

Both get the same preprocessed image: 8-bit greyscale, cropped to the region
of interest, downscaled to ``max_width``. Each returns :class:`Decoded` items
whose ``text`` carries the AIM symbology id when the code holds GS1 data
(``]C1``, ``]d2``, ``]Q3``, ``]e0``), so the GS1 parser sees the FNC1 that the
image carried. pyzbar does not report that modifier: its GS1 codes arrive
without the prefix and are recognised by their GS separators only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge.codes.gs1 import GS1_SYMBOLOGY_IDS

Image = npt.NDArray[np.uint8]

# our format name -> (zxing-cpp BarcodeFormat attribute, pyzbar ZBarSymbol name or None)
_FORMATS: dict[str, tuple[str, str | None]] = {
    "ean-13": ("EAN13", "EAN13"),
    "ean-8": ("EAN8", "EAN8"),
    "upc-a": ("UPCA", "UPCA"),
    "upc-e": ("UPCE", "UPCE"),
    "code-128": ("Code128", "CODE128"),
    "code-39": ("Code39", "CODE39"),
    "itf": ("ITF", "I25"),
    "qr-code": ("QRCode", "QRCODE"),
    "data-matrix": ("DataMatrix", None),
    "databar": ("DataBar", "DATABAR"),
    "databar-expanded": ("DataBarExp", "DATABAR_EXP"),
}
_ZX_NAMES = {
    "EAN-13": "ean-13", "EAN-8": "ean-8", "UPC-A": "upc-a", "UPC-E": "upc-e",
    "Code 128": "code-128", "Code 39": "code-39", "ITF": "itf", "QR Code": "qr-code",
    "Data Matrix": "data-matrix", "DataBar": "databar", "DataBar Expanded": "databar-expanded",
}
_GS1_IDS = {
    "code-128": "]C1", "data-matrix": "]d2", "qr-code": "]Q3",
    "databar": "]e0", "databar-expanded": "]e0",
}
_BINARIZERS = {
    "local-average": "LocalAverage", "fixed-threshold": "FixedThreshold",
    "global-histogram": "GlobalHistogram",
}
_ZBAR_NAMES = {zb: ours for ours, (_, zb) in _FORMATS.items() if zb}


@dataclass(frozen=True)
class Decoded:
    """One code found in one image."""

    format: str
    text: str
    corners: tuple[tuple[int, int], ...] = ()  # outline, in the decoded image's pixels
    via: str = ""  # the ensemble pass that read it ("" outside the ensemble)


class Decoder(Protocol):
    """Finds codes in a preprocessed greyscale image."""

    name: str

    def decode(self, grey: Image) -> list[Decoded]: ...


def to_grey(frame: npt.NDArray[Any]) -> Image:
    """8-bit greyscale from a BGR, BGRA or already grey frame."""
    import cv2

    if frame.ndim == 2:
        return frame.astype(np.uint8, copy=False)
    if frame.shape[2] == 4:
        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY), np.uint8)
    return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), np.uint8)


def geometry(shape: tuple[int, ...], roi: Sequence[float] | None,
             max_width: int) -> tuple[int, int, int, int, float]:
    """(x0, y0, x1, y1, scale): the ROI crop in frame pixels and the downscale applied."""
    h, w = shape[0], shape[1]
    x0, y0, x1, y1 = 0, 0, w, h
    if roi is not None:
        x0, y0 = int(roi[0] * w), int(roi[1] * h)
        x1, y1 = max(x0 + 1, int((roi[0] + roi[2]) * w)), max(y0 + 1, int((roi[1] + roi[3]) * h))
    cw = x1 - x0
    return x0, y0, x1, y1, (max_width / cw if cw > max_width else 1.0)


def preprocess(frame: npt.NDArray[Any], roi: Sequence[float] | None, max_width: int) -> Image:
    """Greyscale, crop to the ROI (fractions), downscale so the width is <= ``max_width``."""
    import cv2

    grey = to_grey(frame)
    x0, y0, x1, y1, scale = geometry(grey.shape, roi, max_width)
    grey = grey[y0:y1, x0:x1]
    if scale != 1.0:
        h = y1 - y0
        size = (max_width, max(1, round(h * scale)))
        grey = np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), np.uint8)
    return np.ascontiguousarray(grey)


def to_frame_coords(found: list[Decoded], shape: tuple[int, ...], roi: Sequence[float] | None,
                    max_width: int) -> list[Decoded]:
    """Outlines mapped back from the preprocessed image to the camera frame."""
    x0, y0, _, _, scale = geometry(shape, roi, max_width)
    return [Decoded(d.format, d.text, tuple((round(x0 + x / scale), round(y0 + y / scale))
                                            for x, y in d.corners), d.via) for d in found]


class ZxingDecoder:
    """zxing-cpp: reads every format we use, DataMatrix included; GS1 via symbology ids."""

    name = "zxing"

    def __init__(self, formats: Sequence[str], binarizer: str = "local-average") -> None:
        import zxingcpp

        self._zx = zxingcpp
        self._formats = zxingcpp.BarcodeFormats(
            [getattr(zxingcpp.BarcodeFormat, _FORMATS[f][0]) for f in formats]
        )
        self.binarizer = binarizer
        self._binarizer = getattr(zxingcpp.Binarizer, _BINARIZERS[binarizer])

    def decode(self, grey: Image) -> list[Decoded]:
        zx = self._zx
        found = zx.read_barcodes(
            grey, formats=self._formats, text_mode=zx.TextMode.Plain, try_invert=False,
            binarizer=self._binarizer,
        )
        out = []
        for b in found:
            fmt = _ZX_NAMES.get(str(b.format), str(b.format))
            sid = b.symbology_identifier
            if sid not in GS1_SYMBOLOGY_IDS and b.content_type == zx.ContentType.GS1:
                # zxing-cpp marks e.g. a rectangular (DMRE) GS1 DataMatrix "]d8": use the
                # standard GS1 identifier of the format so the parser sees the FNC1.
                sid = _GS1_IDS.get(fmt, "")
            text = (sid + b.text) if sid in GS1_SYMBOLOGY_IDS else b.text
            pos = b.position
            corners = tuple((int(pt.x), int(pt.y)) for pt in (
                pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left))
            out.append(Decoded(fmt, text, corners))
        return out


class PyzbarDecoder:
    """pyzbar over the system libzbar0: no DataMatrix, no GS1 flag (see module doc)."""

    name = "pyzbar"

    def __init__(self, formats: Sequence[str]) -> None:
        from pyzbar import pyzbar

        self._decode = pyzbar.decode
        self._symbols = [
            getattr(pyzbar.ZBarSymbol, zb) for f in formats if (zb := _FORMATS[f][1])
        ]

    def decode(self, grey: Image) -> list[Decoded]:
        if not self._symbols:
            return []
        found = self._decode(grey, symbols=self._symbols)
        return [
            Decoded(_ZBAR_NAMES.get(s.type, s.type.lower()), s.data.decode("utf-8", "replace"),
                    tuple((int(pt.x), int(pt.y)) for pt in s.polygon))
            for s in found
        ]


BACKENDS = ("zxing", "pyzbar")


def make_decoders(backend: str, formats: Sequence[str], binarizers: Sequence[str]) -> list[Decoder]:
    """The decoder(s) named by config: one per binarizer for zxing, one pyzbar decoder."""
    if backend == "zxing":
        return [ZxingDecoder(formats, b) for b in binarizers]
    if backend == "pyzbar":
        return [PyzbarDecoder(formats)]
    raise ValueError(f"unknown decoder backend {backend!r}")


def make_decoder(backend: str, formats: Sequence[str]) -> Decoder:
    """The backend's decoder with its first (default) binarizer."""
    return make_decoders(backend, formats, ["local-average"])[0]
