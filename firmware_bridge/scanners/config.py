"""Config of the barcode scanners (``[[scanners.devices]]``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.config import Section


class ScannerDevice(Section):
    kind: Literal["hid", "serial"] = Field(
        description="hid: keyboard-wedge scanner (evdev); serial: USB-CDC scanner (lines)."
    )
    device: str = Field(
        description=(
            "Device path: /dev/input/by-id/...-event-kbd for hid (stable across replugging), "
            "/dev/ttyACM0 or /dev/serial/by-id/... for serial."
        )
    )
    baudrate: int = Field(
        default=9600, ge=300, description="Serial speed (ignored by USB-CDC and hid)."
    )
    grab: bool = Field(
        default=True, description="hid: grab the device so its keystrokes never reach the kiosk UI."
    )


class ScannersSection(Section):
    devices: list[ScannerDevice] = Field(
        default_factory=list, description="Attached scanners; none by default (camera only)."
    )
    reopen_min_s: float = Field(
        default=0.5, gt=0, description="First wait before reopening a lost scanner."
    )
    reopen_max_s: float = Field(
        default=30.0, gt=0, description="Longest wait between reopen attempts."
    )
    max_code_chars: int = Field(
        default=4096, ge=16, description="A code longer than this is discarded (runaway input)."
    )
