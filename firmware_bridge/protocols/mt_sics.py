"""Mettler Toledo Standard Interface Command Set (MT-SICS), level 0/1 subset.

Commands end in CR LF (9600 8N1 typical): ``S`` stable weight, ``SI`` weight
immediately, ``Z`` zero, ``T`` tare, ``TAC`` clear tare. Weight replies are
``S S <value> <unit>`` (stable) or ``S D ...`` (dynamic); ``S I`` busy, ``S +``
overload, ``S -`` underload; ``ES``/``ET``/``EL`` syntax, transmission and
logical errors. Replies to Z/T/TAC (``Z A``, ``T S 100.0 g``, ``TAC A``) are
acknowledgements, not weights: they are consumed and skipped. The S reply is the
net weight when a tare is set, but it does not say so: ``net`` is None.
"""

from __future__ import annotations

import re

from firmware_bridge.protocols.base import (
    BUSY,
    ERROR,
    OK,
    OVERLOAD,
    SKIP,
    UNDERLOAD,
    DeviceState,
    LineParser,
    LineSettings,
    ProtocolSpec,
    Reading,
    Skip,
    signed_weight,
)

_WEIGHT = re.compile(rb"S ([SD]) +(-?\d+(?:\.\d+)?) +([a-z]{1,2}) *\Z")
_STATUS = re.compile(rb"S ([I+-]) *\Z")
_ERROR = re.compile(rb"(ES|ET|EL) *\Z")
_ACK = re.compile(rb"(ZI?|TI?|TAC|TA|@|I\d+) [A-Z+-].*\Z")

_ERRORS = {b"ES": "syntax error", b"ET": "transmission error", b"EL": "logical error"}


class MtSicsParser(LineParser[Reading]):
    max_frame = 48

    def decode(self, frame: bytes) -> Reading | Skip | None:
        m = _WEIGHT.search(frame)
        if m is not None:
            try:
                got = self._grams(m.group(2), m.group(3).decode())
                if got is None:
                    return None
                grams, exact = got
            except ValueError:
                return None
            raw = self._trim(frame, m.start())
            return Reading(grams, m.group(1) == b"S", None, OK, raw, exact)
        m = _STATUS.search(frame)
        if m is not None:
            status = {b"I": BUSY, b"+": OVERLOAD, b"-": UNDERLOAD}[m.group(1)]
            return Reading(None, None, None, status, self._trim(frame, m.start()))
        m = _ERROR.search(frame)
        if m is not None:
            raw = self._trim(frame, m.start())
            return Reading(None, None, None, ERROR, raw, detail=_ERRORS[m.group(1)])
        if _ACK.search(frame) is not None:
            return SKIP
        return None


def encode(state: DeviceState, unit: str) -> bytes:
    """Reply to ``SI`` (``S S``/``S D`` with the value right-aligned in 10)."""
    if state.overload:
        return b"S +\r\n"
    if state.underload:
        return b"S -\r\n"
    value = signed_weight(state.weight_g, unit, 3).rjust(10)
    flag = "S" if state.stable else "D"
    return f"S {flag} {value} {unit}\r\n".encode()


SPEC = ProtocolSpec(
    name="mt-sics",
    title="Mettler Toledo MT-SICS",
    line=LineSettings(9600, 8, "N", 1),
    mode="polled",
    default_unit="kg",
    has_stable_flag=True,
    command_eol=b"\r\n",
    poll=b"SI",
    probe=b"SI",
    zero=b"Z",
    tare=b"T",
    clear_tare=b"TAC",
    parser=MtSicsParser,
    encode=encode,
)
