"""Yaohua XK3190-A12/A12E lines: ``ww`` gross, ``wn`` net, ``wt`` tare.

``ww000.000kg``, ``wn-0000.1kg``, ``wt000.000kg`` (the same examples appear in a
public MCUSH instrument driver). No stable flag: the stability detector decides.
Tare lines are well-formed but not a weight on the pan: skipped. Commands are
single bytes ``R`` (read), ``T`` (tare), ``Z`` (zero); 9600 8N1.
"""

from __future__ import annotations

import re

from firmware_bridge.protocols.base import (
    OK,
    SKIP,
    DeviceState,
    LineParser,
    LineSettings,
    ProtocolSpec,
    Reading,
    Skip,
    format_weight,
)

_FRAME = re.compile(rb"w([wnt])(-?)(\d+(?:\.\d+)?)(kg|lb|g|t) *\Z")


class XK3190A12Parser(LineParser[Reading]):
    max_frame = 32
    max_digits = 6  # the value field: 7 characters with sign and point
    max_decimals = 3

    def decode(self, frame: bytes) -> Reading | Skip | None:
        m = _FRAME.search(frame)
        if m is None:
            return None
        if m.group(1) == b"t":
            return SKIP
        got = self._grams(m.group(3), m.group(4).decode())
        if got is None:
            return None
        grams, exact = got
        if m.group(2):
            grams = -grams
        raw = self._trim(frame, m.start())
        return Reading(grams, None, m.group(1) == b"n", OK, raw, exact)


def encode(state: DeviceState, unit: str) -> bytes:
    kind = "n" if state.net else "w"
    sign = "-" if state.weight_g < 0 else ""
    value = format_weight(state.weight_g, unit, 3).rjust(7, "0")
    return f"w{kind}{sign}{value}{unit}\r\n".encode()


SPEC = ProtocolSpec(
    name="xk3190-a12",
    title="Yaohua XK3190-A12/A12E (ww/wn/wt lines)",
    line=LineSettings(9600, 8, "N", 1),
    mode="continuous",
    default_unit="kg",
    has_stable_flag=False,
    command_eol=b"",
    poll=b"R",
    probe=b"R",
    zero=b"Z",
    tare=b"T",
    clear_tare=None,
    parser=XK3190A12Parser,
    encode=encode,
)
