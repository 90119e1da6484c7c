"""Yaohua XK3190-A9 continuous 12-byte frame with an XOR check.

``STX``, sign (``+``/``-``), 6 digits, decimal-places digit, two upper-case hex
characters holding the XOR of bytes 1..8, ``ETX``. Example (from the team's protocol notes,
its check byte verified by computation):
``02 2B 30 31 32 34 35 30 30 31 39 03`` is +012450 with 0 decimals, check 0x19.
The frame has no unit (configured; kg by default) and no stable flag: the
stability detector decides. 1200..9600 8N1; no host commands.
"""

from __future__ import annotations

from decimal import Decimal

from firmware_bridge.protocols.base import (
    ETX,
    OK,
    STX,
    DeviceState,
    LineSettings,
    Parser,
    ProtocolSpec,
    Reading,
    Skip,
)
from firmware_bridge.protocols.base import GRAMS_PER_UNIT as _G

FRAME_LEN = 12
_HEX = b"0123456789ABCDEF"


def checksum(body: bytes) -> bytes:
    """Two upper-case hex characters of the XOR of ``body`` (frame bytes 1..8)."""
    x = 0
    for b in body:
        x ^= b
    return bytes([_HEX[x >> 4], _HEX[x & 0x0F]])


class XK3190A9Parser(Parser[Reading]):
    max_frame = FRAME_LEN
    max_digits = 6
    max_decimals = 5

    def _next_frame(self, buf: bytearray, pos: int) -> tuple[bytes | None, int]:
        n = len(buf)
        while pos < n:
            start = self._seek(buf, pos, STX)
            if start < 0:
                return None, n
            if n - start < FRAME_LEN:
                return None, start
            frame = bytes(buf[start : start + FRAME_LEN])
            if frame[-1] != ETX or checksum(frame[1:9]) != frame[9:11]:
                self._reject(1)  # resync on the next STX, which may be inside
                pos = start + 1
                continue
            return frame, start + FRAME_LEN
        return None, pos

    def decode(self, frame: bytes) -> Reading | Skip | None:
        sign, digits, dec = frame[1:2], frame[2:8], frame[8:9]
        if sign not in (b"+", b"-") or not digits.isdigit() or not dec.isdigit():
            return None
        places = int(dec)
        if places > 5:
            return None
        text = digits.decode()
        if places:
            text = text[:-places] + "." + text[-places:]
        got = self._grams(text, self.unit)
        if got is None:
            return None
        grams, exact = got
        return Reading(-grams if sign == b"-" else grams, None, None, OK, frame, exact)


def encode(state: DeviceState, unit: str, places: int = 3) -> bytes:
    value = int(Decimal(abs(state.weight_g)) / _G[unit] * (10**places))
    body = (b"-" if state.weight_g < 0 else b"+") + f"{min(value, 999999):06d}{places}".encode()
    return bytes([STX]) + body + checksum(body) + bytes([ETX])


SPEC = ProtocolSpec(
    name="xk3190-a9",
    title="Yaohua XK3190-A9 (12-byte frame, XOR check)",
    line=LineSettings(9600, 8, "N", 1),
    mode="continuous",
    default_unit="kg",
    has_stable_flag=False,
    command_eol=b"",
    poll=None,
    probe=None,
    zero=None,
    tare=None,
    clear_tare=None,
    parser=XK3190A9Parser,
    encode=encode,
    check="checksum",  # XOR of bytes 1..8 as two hex characters
)
