"""Mettler Toledo 8217 ("weight-only") protocol: polled with ``W``, 9600 7E1.

Wire format (Odoo's hw_scale driver citing the Viva service manual, and
the team's protocol notes): the host sends single bytes ``W`` (weight), ``Z`` (zero), ``T``
(tare), ``C`` (clear tare), no terminator. A weight reply is ``STX weight CR``
(``\\x02 12.345\\r``), sent only when the weight is valid and settled; otherwise
the scale answers ``STX ? status CR`` whose status byte bits are: 0 in motion,
1 over capacity, 2 under zero, 3 outside zero range, 4 centre of zero, 5 net,
6 bad command. A negative weight appears only as "under zero". A trailing ``N``
on a weight reply is accepted (Odoo's pattern) and read as a net weight.
"""

from __future__ import annotations

import re

from firmware_bridge.protocols.base import (
    ERROR,
    MOTION,
    OK,
    OVERLOAD,
    SKIP,
    STX,
    UNDERLOAD,
    DeviceState,
    LineSettings,
    Parser,
    ProtocolSpec,
    Reading,
    Skip,
    format_weight,
)

_WEIGHT = re.compile(rb"\x02 *(\d+(?:\.\d+)?)(N?)\r")
CR = 0x0D

BIT_MOTION = 1 << 0
BIT_OVER = 1 << 1
BIT_UNDER = 1 << 2
BIT_OUTSIDE_ZERO = 1 << 3
BIT_CENTRE_ZERO = 1 << 4
BIT_NET = 1 << 5
BIT_BAD_COMMAND = 1 << 6


class Toledo8217Parser(Parser[Reading]):
    """``STX ... CR`` weight frames and 4-byte ``STX ? s CR`` status frames.

    The status byte may itself be STX or CR, so a status frame is cut by length;
    a weight frame ends at CR, and an STX inside it restarts the frame there
    (the first one was cut off). Bytes outside frames are dropped and counted.
    """

    max_frame = 24
    max_digits = 6  # the weight field: xxx.xxx
    max_decimals = 3

    def _next_frame(self, buf: bytearray, pos: int) -> tuple[bytes | None, int]:
        n = len(buf)
        while pos < n:
            start = self._seek(buf, pos, STX)
            if start < 0:
                return None, n
            if start + 1 >= n:
                return None, start
            if buf[start + 1] == 0x3F:  # '?': status frame, fixed length
                if start + 4 > n:
                    return None, start
                if buf[start + 3] == CR:
                    return bytes(buf[start : start + 4]), start + 4
                self._reject(1)
                pos = start + 1
                continue
            i = start + 1
            limit = min(n, start + self.max_frame)
            while i < limit and buf[i] != CR and buf[i] != STX:
                i += 1
            if i >= n:
                return None, start  # need more
            if i == limit or buf[i] == STX:
                self._reject(i - start)
                pos = i
                continue
            return bytes(buf[start : i + 1]), i + 1
        return None, pos

    def decode(self, frame: bytes) -> Reading | Skip | None:
        if len(frame) == 4 and frame[1] == 0x3F:
            # 7-bit data: a status byte with bit 7 set is line noise, not a status.
            return None if frame[2] & 0x80 else _status_reading(frame)
        m = _WEIGHT.fullmatch(frame)
        if m is None:
            return None
        got = self._grams(m.group(1), self.unit)
        if got is None:
            return None
        grams, exact = got
        net = True if m.group(2) else None
        return Reading(grams, True, net, OK, frame, exact)


def _status_reading(frame: bytes) -> Reading:
    s = frame[2]
    net = bool(s & BIT_NET)
    stable = not s & BIT_MOTION
    if s & BIT_BAD_COMMAND:
        return Reading(None, stable, net, ERROR, frame, detail="bad command")
    if s & BIT_OVER:
        return Reading(None, stable, net, OVERLOAD, frame)
    if s & BIT_UNDER:
        return Reading(None, stable, net, UNDERLOAD, frame)
    if s & BIT_OUTSIDE_ZERO:
        return Reading(None, stable, net, ERROR, frame, detail="outside zero range")
    if s & BIT_MOTION:
        return Reading(None, False, net, MOTION, frame)
    return Reading(None, stable, net, OK, frame, detail="status without weight")


def encode(state: DeviceState, unit: str) -> bytes:
    """Reply to ``W``: the weight when settled and in range, else a status reply."""
    bits = 0
    if not state.stable:
        bits |= BIT_MOTION
    if state.overload:
        bits |= BIT_OVER
    if state.underload or state.weight_g < 0:
        bits |= BIT_UNDER
    if state.net:
        bits |= BIT_NET
    if bits & (BIT_MOTION | BIT_OVER | BIT_UNDER):
        return bytes([STX, 0x3F, bits, 0x0D])
    text = format_weight(state.weight_g, unit, 3).rjust(7)
    return b"\x02" + text.encode() + (b"N" if state.net else b"") + b"\r"


def status_reply(bits: int) -> bytes:
    """A bare status frame (simulator's answer to an unknown command)."""
    return bytes([STX, 0x3F, bits, 0x0D])


SPEC = ProtocolSpec(
    name="toledo8217",
    title="Mettler Toledo 8217 (polled W, status byte)",
    line=LineSettings(9600, 7, "E", 1),
    mode="polled",
    default_unit="kg",
    has_stable_flag=True,
    command_eol=b"",
    poll=b"W",
    probe=b"W",
    zero=b"Z",
    tare=b"T",
    clear_tare=b"C",
    parser=Toledo8217Parser,
    encode=encode,
    check="parity",  # 7E1: even parity per byte, checked by the UART (serialport: INPCK)
)

__all__ = ["SKIP", "SPEC", "Toledo8217Parser", "encode", "status_reply"]
