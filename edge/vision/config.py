"""Config sections of the camera and the decoder (``[camera]`` and ``[decoder]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from core.config import Section

FORMAT_NAMES = (
    "ean-13", "ean-8", "upc-a", "upc-e", "code-128", "code-39", "itf",
    "qr-code", "data-matrix", "databar", "databar-expanded",
)


BinarizerName = Literal["local-average", "fixed-threshold", "global-histogram"]

# Ensemble passes after the base zxing-cpp pass (edge/vision/passes.py defines them).
PassName = Literal[
    "zxing-fixed", "zxing-histogram", "pyzbar", "clahe", "clahe-pyzbar", "sharpen",
    "sharpen-pyzbar", "upscale", "upscale-sharpen", "upscale-pyzbar", "adaptive", "rotate-45",
    "invert",
]


def _default_passes() -> list[PassName]:
    # Chosen on the hard set, in this order; each reads codes the ones before it miss
    # (docs/vision.md has the figures; tests/test_vision_ensemble.py holds it).
    return ["zxing-fixed", "upscale-sharpen", "pyzbar", "sharpen-pyzbar", "upscale", "sharpen",
            "clahe", "upscale-pyzbar"]


def _default_binarizers() -> list[BinarizerName]:
    return ["local-average", "fixed-threshold"]


class CameraSection(Section):
    source: Literal["camera", "file", "folder", "synthetic"] = Field(
        default="camera",
        description="Frames from: a V4L2 camera, a video file, a folder of images, or synthetic.",
    )
    device: str = Field(
        default="/dev/video0", description="V4L2 device path or index (source = camera)."
    )
    path: Path | None = Field(
        default=None, description="Video file (source = file) or image folder (source = folder)."
    )
    width: int = Field(default=1280, ge=64, le=7680, description="Requested frame width in pixels.")
    height: int = Field(
        default=720, ge=48, le=4320, description="Requested frame height in pixels."
    )
    fps: int = Field(default=15, ge=1, le=120, description="Requested frames per second.")
    fourcc: str = Field(
        default="MJPG",
        pattern=r"^[A-Z0-9]{4}$",
        description="Pixel format asked of the camera (MJPG lets USB 2 cameras do 720p at speed).",
    )
    loop: bool = Field(default=True, description="Restart a video file or folder at its end.")
    stall_timeout_s: float = Field(
        default=3.0, gt=0, description="No frame for this long means the camera stalled: reopen it."
    )
    reopen_min_s: float = Field(
        default=0.5, gt=0, description="First wait before reopening a lost camera."
    )
    reopen_max_s: float = Field(
        default=30.0, gt=0, description="Longest wait between reopen attempts (backoff doubles)."
    )
    synthetic_codes: list[str] = Field(
        default_factory=lambda: ["(01)09521234543213(17)261231(10)B2411(3103)001250"],
        description="Codes the synthetic source renders (bracketed GS1 is encoded as GS1).",
    )
    synthetic_format: str = Field(
        default="data-matrix", description="Barcode format the synthetic source renders."
    )


class DecoderSection(Section):
    backend: Literal["zxing", "pyzbar"] = Field(
        default="zxing",
        description="Decoder library (zxing-cpp measured faster and surer; docs/vision.md).",
    )
    roi: list[float] | None = Field(
        default=None,
        description="Region of interest: fractions [x, y, width, height]; unset = whole frame.",
    )
    max_width: int = Field(
        default=1280, ge=160, description="Frames wider than this are downscaled before decoding."
    )
    formats: list[str] = Field(
        default_factory=lambda: [
            "ean-13", "ean-8", "code-128", "qr-code", "data-matrix", "databar-expanded"
        ],
        description="Barcode formats to look for (fewer = faster); names as in docs/vision.md.",
    )

    ensemble: bool = Field(
        default=True,
        description="zxing-cpp first, then the passes below on a miss (docs/vision.md); "
                    "false = the backend alone with its binarizers.",
    )
    passes: list[PassName] = Field(
        default_factory=_default_passes,
        description="Ensemble passes after the base zxing-cpp pass, in order (docs/vision.md).",
    )
    budget_ms: float = Field(
        default=40.0, ge=0,
        description="Ensemble: time per frame; a pass whose expected cost does not fit is "
                    "skipped (0 = no limit).",
    )
    binarizers: list[BinarizerName] = Field(
        default_factory=_default_binarizers,
        min_length=1,
        description="Without the ensemble: zxing binarizers to use (docs/vision.md).",
    )
    strategy: Literal["alternate", "fallback"] = Field(
        default="alternate",
        description=(
            "Live frames: alternate = spread the work over frames (ensemble: continue with the "
            "next passes on the next frame; without: one binarizer per frame in turn); "
            "fallback = try every pass on each frame. Still images always use fallback."
        ),
    )

    @field_validator("roi")
    @classmethod
    def _roi(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        if len(v) != 4:
            raise ValueError("roi is [x, y, width, height]")
        x, y, w, h = v
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x and 0 < h <= 1 - y):
            raise ValueError("roi fractions must lie inside the frame")
        return v

    @field_validator("passes")
    @classmethod
    def _passes(cls, v: list[PassName]) -> list[PassName]:
        if len(set(v)) != len(v):
            raise ValueError("a pass is listed twice")
        return v

    @field_validator("formats")
    @classmethod
    def _formats(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in FORMAT_NAMES]
        if bad or not v:
            raise ValueError(f"unknown formats {bad}; known: {', '.join(FORMAT_NAMES)}")
        return v
