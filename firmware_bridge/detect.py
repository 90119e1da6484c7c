"""``scale detect``: which indicator is on this port, at which line settings?

Protocols are grouped by line settings; for each group the port is opened once
and first *listened to* (continuous indicators speak unasked), every parser of
the group reading the same bytes; then the group's probe commands are sent one
by one (line-terminated probes first, so a single-byte probe never glues onto
the next line). A protocol matches when its parser turns the bytes into at
least one reading, and the best match (most readings, fewest bad frames)
wins. The permissive HX711 line format is tried only at its own baud rate.
The report says, per attempt, what was seen, so "nothing matched" has reasons.
A Raspberry Pi 5's console UART (``ttyAMA10``) is never a scale and is refused.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from firmware_bridge.protocols import REGISTRY
from firmware_bridge.protocols.base import LineSettings, Parser, ProtocolSpec, Reading
from firmware_bridge.serialport import open_port


@dataclass
class Attempt:
    protocol: str
    line: LineSettings
    how: str  # "listen", "probe" or "open" (the port refused to open)
    bytes_seen: int = 0
    readings: int = 0
    bad_frames: int = 0
    error: str = ""

    def reason(self) -> str:
        if self.error:
            return f"cannot open: {self.error}"
        if self.readings:
            return f"{self.readings} readings, {self.bad_frames} bad frames"
        if not self.bytes_seen:
            return "no bytes" if self.how == "listen" else "no answer to probe"
        return f"{self.bytes_seen} bytes but no valid frame ({self.bad_frames} bad)"


@dataclass
class DetectResult:
    found: Attempt | None
    attempts: list[Attempt] = field(default_factory=list)


# Formats so loose that they would match other indicators' lines: tried alone, last.
_PERMISSIVE = frozenset({"hx711"})


def _groups(bauds: Sequence[int] | None) -> list[tuple[LineSettings, list[ProtocolSpec]]]:
    """Protocols grouped by line settings, in the order to try them.

    Strict formats first (by the order of ``bauds``, bigger groups first), the
    permissive ones last and each in a group of its own.
    """
    groups: dict[tuple[bool, LineSettings], list[ProtocolSpec]] = {}
    for spec in REGISTRY.values():
        for baud in bauds or [spec.line.baud]:
            key = (spec.name in _PERMISSIVE, replace(spec.line, baud=baud))
            groups.setdefault(key, []).append(spec)
    rank = {baud: i for i, baud in enumerate(bauds or [])}
    ordered = sorted(groups.items(),
                     key=lambda kv: (kv[0][0], rank.get(kv[0][1].baud, 0), -len(kv[1])))
    return [(line, specs) for (_loose, line), specs in ordered]


def _collect(dev: Any, parsers: dict[str, Parser[Reading]], attempts: dict[str, Attempt],
             seconds: float, enough: int) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        waiting = dev.in_waiting
        data = dev.read(waiting if waiting else 1)
        if not data:
            continue
        for name, parser in parsers.items():
            att = attempts[name]
            att.bytes_seen += len(data)
            att.readings += len(parser.feed(data))
            att.bad_frames = parser.bad_frames
        if any(a.readings >= enough for a in attempts.values()):
            return


def _best(attempts: Sequence[Attempt]) -> Attempt | None:
    hits = [a for a in attempts if a.readings]
    return max(hits, key=lambda a: (a.readings, -a.bad_frames)) if hits else None


CONSOLE_PORTS = ("ttyAMA10",)


def is_console_port(port: str) -> bool:
    """The Pi 5 debug console (``/dev/ttyAMA10``), also when reached by a symlink."""
    return os.path.basename(os.path.realpath(port)) in CONSOLE_PORTS


def detect(port: str, bauds: Sequence[int] | None = None, listen_s: float = 1.0,
           probe_s: float = 0.4) -> DetectResult:
    """Try every protocol on ``port``; a setting the port refuses is an attempt too."""
    import serial

    result = DetectResult(None)
    for line, specs in _groups(bauds):
        try:
            dev = open_port(port, line)
        except (OSError, serial.SerialException) as exc:
            result.attempts += [Attempt(s.name, line, "open", error=str(exc)) for s in specs]
            continue
        try:
            parsers = {s.name: s.new_parser() for s in specs}
            attempts = {s.name: Attempt(s.name, line, "listen") for s in specs}
            if any(s.mode == "continuous" for s in specs):
                _collect(dev, parsers, attempts, listen_s, enough=3)
            result.attempts.extend(attempts.values())
            best = _best(list(attempts.values()))
            if best is not None:
                result.found = best
                return result
            probes = sorted((s for s in specs if s.probe is not None),
                            key=lambda s: s.command_eol == b"")
            for spec in probes:
                att = Attempt(spec.name, line, "probe")
                dev.reset_input_buffer()
                assert spec.probe is not None
                dev.write(spec.probe + spec.command_eol)
                _collect(dev, {spec.name: spec.new_parser()}, {spec.name: att}, probe_s, 1)
                result.attempts.append(att)
                if att.readings:
                    result.found = att
                    return result
        finally:
            dev.close()
    return result
