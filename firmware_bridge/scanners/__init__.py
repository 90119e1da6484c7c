"""Barcode scanners: USB HID keyboard-wedge (evdev) and USB-CDC serial.

Pure cores (``keymap.KeystrokeAssembler``, ``serial_lines.LineSplitter``) turn
key events or bytes into code texts; thin adapters (``hid.HidScanner``,
``serial_scanner.SerialScanner``) own the device, reconnect with backoff and
emit the same :class:`firmware_bridge.scan.ScanEvent` as the camera.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware_bridge.scan import ScanEvent
from firmware_bridge.scanners.base import ReaderThread
from firmware_bridge.scanners.config import ScannersSection


def make_scanners(
    cfg: ScannersSection,
    on_scan: Callable[[ScanEvent], None],
    on_state: Callable[[str, str, str], None] | None = None,
) -> list[ReaderThread]:
    """One reader thread per configured scanner (not started).

    ``on_state(source, state, detail)`` names the scanner whose state changed.
    """
    from firmware_bridge.scanners.hid import HidScanner
    from firmware_bridge.scanners.serial_scanner import SerialScanner

    readers: list[ReaderThread] = []
    for dev in cfg.devices:
        source = f"{dev.kind}:{dev.device}"

        def state_cb(state: str, detail: str, source: str = source) -> None:
            if on_state is not None:
                on_state(source, state, detail)

        lo, hi, limit = cfg.reopen_min_s, cfg.reopen_max_s, cfg.max_code_chars
        if dev.kind == "hid":
            readers.append(HidScanner(dev.device, on_scan, dev.grab, state_cb, lo, hi, limit))
        else:
            readers.append(
                SerialScanner(dev.device, on_scan, dev.baudrate, state_cb, lo, hi, limit)
            )
    return readers
