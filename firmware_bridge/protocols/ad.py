"""A&D / CAS style ``header,mode,value unit`` lines (continuous or on request).

``ST,GS,+  4.876kg``, ``US,NT,+0001.234kg``, ``ST,+00001234.5g``: header ``ST``
stable, ``US`` unstable, ``OL`` overload (``OL,+999999.9g``; a negative OL is
read as underload); optional ``GS`` gross / ``NT`` net; sign, digits with a
point, unit (``g``, ``kg``, ``lb``, ``oz``, ``t``, padded with spaces). A frame
without a unit uses the configured unit. Commands (CR LF): ``Q`` print now,
``Z`` re-zero, ``T`` tare. Lines end CR LF; 9600 8N1 by default (set per site).
"""

from __future__ import annotations

import re

from firmware_bridge.protocols.base import (
    OK,
    OVERLOAD,
    UNDERLOAD,
    DeviceState,
    LineParser,
    LineSettings,
    ProtocolSpec,
    Reading,
    Skip,
    format_weight,
)

_FRAME = re.compile(
    rb"(ST|US),(?:(GS|NT),)?([+-]) *(\d+(?:\.\d*)?) *([a-z]{1,2})? *\Z"
)
_OVERLOAD = re.compile(rb"OL,(?:(GS|NT),)?([+-])[ 0-9.]*[a-z]{0,2} *\Z")


class AdParser(LineParser[Reading]):
    max_frame = 40

    def decode(self, frame: bytes) -> Reading | Skip | None:
        m = _FRAME.search(frame)
        if m is not None:
            unit = m.group(5).decode() if m.group(5) else self.unit
            got = self._grams(m.group(4), unit)
            if got is None:
                return None
            grams, exact = got
            if m.group(3) == b"-":
                grams = -grams
            net = None if m.group(2) is None else m.group(2) == b"NT"
            raw = self._trim(frame, m.start())
            return Reading(grams, m.group(1) == b"ST", net, OK, raw, exact)
        m = _OVERLOAD.search(frame)
        if m is not None:
            net = None if m.group(1) is None else m.group(1) == b"NT"
            status = OVERLOAD if m.group(2) == b"+" else UNDERLOAD
            return Reading(None, None, net, status, self._trim(frame, m.start()))
        return None


def encode(state: DeviceState, unit: str) -> bytes:
    mode = "NT" if state.net else "GS"
    if state.overload or state.underload:
        sign = "+" if state.overload else "-"
        return f"OL,{mode},{sign}9999.999{unit}\r\n".encode()
    head = "ST" if state.stable else "US"
    sign = "-" if state.weight_g < 0 else "+"
    value = format_weight(state.weight_g, unit, 3).rjust(8, "0")
    return f"{head},{mode},{sign}{value}{unit}\r\n".encode()


SPEC = ProtocolSpec(
    name="ad",
    title="A&D / CAS style (ST/US/OL, GS/NT)",
    line=LineSettings(9600, 8, "N", 1),
    mode="continuous",
    default_unit="kg",
    has_stable_flag=True,
    command_eol=b"\r\n",
    poll=b"Q",
    probe=b"Q",
    zero=b"Z",
    tare=b"T",
    clear_tare=None,
    parser=AdParser,
    encode=encode,
)
