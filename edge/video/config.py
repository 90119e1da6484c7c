"""Config of the clip recorder and its retention (``[video]``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.config import Section

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


class VideoSection(Section):
    enabled: bool = Field(default=True, description="Film every acceptance (clip per decided line).")
    pre_roll_s: float = Field(
        default=3.0, ge=0, le=30, description="Seconds of frames kept in a ring buffer before a clip starts."
    )
    post_roll_s: float = Field(
        default=2.0, ge=0, le=30, description="Seconds recorded after the decision is committed."
    )
    max_s: float = Field(
        default=120.0, gt=1, le=1800, description="Longest clip; frames after this are not written."
    )
    fps: int = Field(default=15, ge=1, le=60, description="Nominal frame rate written into the clip.")
    crf: int = Field(default=28, ge=0, le=51, description="x264 constant rate factor (higher: smaller).")
    preset: str = Field(default="ultrafast", description="x264 preset (ultrafast keeps a Pi in real time).")
    codecs: list[str] = Field(
        default_factory=lambda: ["libx264", "h264_v4l2m2m"],
        description=(
            "H.264 encoders to try in order (the first this FFmpeg build has is used):"
            " libx264 (software, in PyAV's wheel), h264_v4l2m2m (Raspberry Pi 4 hardware)."
        ),
    )
    bitrate_kbps: int = Field(
        default=2000, ge=100, le=50000, description="Bit rate of a hardware encoder (libx264 uses crf)."
    )
    font_path: Path = Field(default=CJK_FONT, description="CJK font used for the burned-in caption.")
    budget_mb: int = Field(default=20000, ge=1, description="Disk budget for all clips, in MB.")
    min_free_mb: int = Field(
        default=1000, ge=0, description="Keep this much disk free; below it recording stops (visible state)."
    )
    retention_days: int = Field(
        default=730, ge=1,
        description="Legal retention of a clip that is the only copy (2 years: docs/contract.md §3).",
    )
    retention_interval_s: float = Field(
        default=300.0, gt=0, description="How often the retention job runs."
    )
