"""OHAUS print lines, polled with ``IP`` (immediate print), CR LF, 9600 8N1.

A line is ``<sign><value> <unit>`` optionally followed by ``G``/``N``/``NET``
(gross/net) and a trailing ``?`` that marks an unstable weight, e.g.
``     1.234 kg N ?``. The line has no header, so a line with anything before the
weight is refused rather than guessed at. Commands: ``IP``, ``Z`` zero, ``T``
tare; there is no separate clear-tare command (tare an empty pan).
"""

from __future__ import annotations

import re

from firmware_bridge.protocols.base import (
    OK,
    DeviceState,
    LineParser,
    LineSettings,
    ProtocolSpec,
    Reading,
    Skip,
    signed_weight,
)

_FRAME = re.compile(
    rb" *(-?) *(\d+(?:\.\d+)?) +(kg|g|lb|oz|t)(?: +(G|N|NET|GROSS))?(?: *(\?))? *"
)


class OhausParser(LineParser[Reading]):
    max_frame = 40

    def decode(self, frame: bytes) -> Reading | Skip | None:
        m = _FRAME.fullmatch(frame)
        if m is None:
            return None
        got = self._grams(m.group(2), m.group(3).decode())
        if got is None:
            return None
        grams, exact = got
        if m.group(1):
            grams = -grams
        mode = m.group(4)
        net = None if mode is None else mode in (b"N", b"NET")
        return Reading(grams, m.group(5) is None, net, OK, frame, exact)


def encode(state: DeviceState, unit: str) -> bytes:
    value = signed_weight(state.weight_g, unit, 3).rjust(10)
    mode = "N" if state.net else "G"
    flag = "" if state.stable else " ?"
    return f"{value} {unit} {mode}{flag}\r\n".encode()


SPEC = ProtocolSpec(
    name="ohaus",
    title="OHAUS (IP, trailing ? unstable)",
    line=LineSettings(9600, 8, "N", 1),
    mode="polled",
    default_unit="kg",
    has_stable_flag=True,
    command_eol=b"\r\n",
    poll=b"IP",
    probe=b"IP",
    zero=b"Z",
    tare=b"T",
    clear_tare=None,
    parser=OhausParser,
    encode=encode,
)
