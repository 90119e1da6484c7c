"""Bytes from a USB-CDC scanner -> code texts: one code per line (CR, LF or CR LF)."""

from __future__ import annotations


class LineSplitter:
    """Pure: feed bytes as they arrive, get back the complete lines (decoded UTF-8)."""

    def __init__(self, max_chars: int = 4096) -> None:
        self.max_chars = max_chars
        self._buf = bytearray()
        self._skip_lf = False
        self._discarding = False  # a line overflowed: drop the rest of it
        self.overflows = 0

    def feed(self, data: bytes) -> list[str]:
        out: list[str] = []
        for b in data:
            if b == 0x0A and self._skip_lf:  # the LF of a CR LF pair
                self._skip_lf = False
                continue
            self._skip_lf = b == 0x0D
            if b in (0x0D, 0x0A):
                if self._buf and not self._discarding:
                    out.append(self._buf.decode("utf-8", "replace"))
                self._buf.clear()
                self._discarding = False
                continue
            if self._discarding:
                continue
            if len(self._buf) >= self.max_chars:
                self._buf.clear()
                self._discarding = True
                self.overflows += 1
                continue
            self._buf.append(b)
        return out
