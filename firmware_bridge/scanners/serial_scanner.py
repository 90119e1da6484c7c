"""USB-CDC serial scanner adapter: pyserial on one side, LineSplitter on the other."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from firmware_bridge.scan import ScanEvent
from firmware_bridge.scanners.base import DeviceGone, ReaderThread
from firmware_bridge.scanners.serial_lines import LineSplitter


class SerialScanner(ReaderThread):
    """Reads lines from ``/dev/ttyACM*`` (or any serial port); one line = one code."""

    def __init__(
        self,
        port: str,
        on_scan: Callable[[ScanEvent], None],
        baudrate: int = 9600,
        on_state: Callable[[str, str], None] | None = None,
        reopen_min_s: float = 0.5,
        reopen_max_s: float = 30.0,
        max_chars: int = 4096,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.source = f"serial:{port}"
        self._max_chars = max_chars
        self._splitter = LineSplitter(max_chars)
        self._ser: Any = None
        super().__init__(on_scan, on_state, reopen_min_s, reopen_max_s)

    def _open(self) -> None:
        import serial

        try:
            self._ser = serial.Serial(self.port, self.baudrate, timeout=0.2)
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone(f"{self.port}: {exc}") from None
        self._splitter = LineSplitter(self._max_chars)  # a partial line died with the old link

    def _read(self) -> list[str]:
        import serial

        try:
            data = self._ser.read(self._ser.in_waiting or 1)
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone(f"{self.port}: {exc}") from None
        return self._splitter.feed(data) if data else []

    def _close(self) -> None:
        if self._ser is not None:
            with contextlib.suppress(OSError):
                self._ser.close()
            self._ser = None
