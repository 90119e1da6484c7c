"""An HX711 load-cell microcontroller bridge: one reading a line, 57600 8N1.

Hobby and kit firmwares print lines like ``Load_cell output val: 123.4`` (grams
after calibration); an optional ``label:`` prefix and unit suffix are accepted.
Printable lines without a number (``Tare complete``) are skipped. No stable flag
(the detector decides); ``t`` tares, ``r`` recalibrates (not sent by the link).
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
    signed_weight,
)

_FRAME = re.compile(rb" *(?:[A-Za-z_][A-Za-z0-9_ ]*[:=] *)?([+-]?\d+(?:\.\d+)?) *(g|kg)? *")
_TEXT = re.compile(rb"[A-Za-z][ -~]*")


class Hx711Parser(LineParser[Reading]):
    max_frame = 64
    max_digits = 8  # raw 24-bit counts (8 digits) or calibrated grams, 3 decimals at most
    max_decimals = 3

    def decode(self, frame: bytes) -> Reading | Skip | None:
        m = _FRAME.fullmatch(frame)
        if m is None:
            if _TEXT.fullmatch(frame) and not any(c.isdigit() for c in frame.decode()):
                return SKIP
            return None
        unit = m.group(2).decode() if m.group(2) else self.unit
        got = self._grams(m.group(1).lstrip(b"+"), unit)
        if got is None:
            return None
        grams, exact = got
        return Reading(grams, None, None, OK, frame, exact)


def encode(state: DeviceState, unit: str) -> bytes:
    return f"Load_cell output val: {signed_weight(state.weight_g, unit, 1)}\r\n".encode()


SPEC = ProtocolSpec(
    name="hx711",
    title="HX711 microcontroller bridge (one reading a line)",
    line=LineSettings(57600, 8, "N", 1),
    mode="continuous",
    default_unit="g",
    has_stable_flag=False,
    command_eol=b"",
    poll=None,
    probe=None,
    zero=None,
    tare=b"t",
    clear_tare=None,
    parser=Hx711Parser,
    encode=encode,
)
