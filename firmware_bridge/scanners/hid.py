"""USB HID keyboard-wedge scanner adapter: evdev device, grabbed, into KeystrokeAssembler.

Thin on purpose: everything that can be wrong about keystrokes is in
``keymap.py`` and tested there. Grabbing (EVIOCGRAB) keeps the scanner's
typing out of the kiosk browser. Needs read access to ``/dev/input/event*``
(the ``input`` group).
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Callable
from typing import Any

from firmware_bridge.scan import ScanEvent
from firmware_bridge.scanners.base import DeviceGone, ReaderThread
from firmware_bridge.scanners.keymap import KeystrokeAssembler

EV_KEY = 1


class HidScanner(ReaderThread):
    """Reads key events from one evdev device and emits a code per Enter."""

    def __init__(
        self,
        device: str,
        on_scan: Callable[[ScanEvent], None],
        grab: bool = True,
        on_state: Callable[[str, str], None] | None = None,
        reopen_min_s: float = 0.5,
        reopen_max_s: float = 30.0,
        max_chars: int = 4096,
    ) -> None:
        self.device = device
        self.grab = grab
        self.source = f"hid:{device}"
        self._max_chars = max_chars
        self._asm = KeystrokeAssembler(max_chars)
        self._dev: Any = None
        super().__init__(on_scan, on_state, reopen_min_s, reopen_max_s)

    def _open(self) -> None:
        import evdev

        try:
            dev = evdev.InputDevice(self.device)
            if self.grab:
                dev.grab()
        except OSError as exc:
            raise DeviceGone(f"{self.device}: {exc.strerror or exc}") from None
        self._dev = dev
        self._asm = KeystrokeAssembler(self._max_chars)

    def _read(self) -> list[str]:
        try:
            ready, _, _ = select.select([self._dev.fd], [], [], 0.5)
            if not ready:
                return []
            out = []
            for ev in self._dev.read():
                if ev.type == EV_KEY and (text := self._asm.feed(ev.code, ev.value)):
                    out.append(text)
            return out
        except OSError as exc:  # ENODEV when unplugged
            raise DeviceGone(f"{self.device}: {exc.strerror or exc}") from None

    def _close(self) -> None:
        if self._dev is not None:
            try:
                if self.grab:
                    self._dev.ungrab()
            except OSError:
                pass
            with contextlib.suppress(OSError):
                self._dev.close()
            self._dev = None
