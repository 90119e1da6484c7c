"""Driving a running scale simulator from outside: one JSON command per line.

``acceptance-station scale simulate --control`` reads commands on stdin so a
trainer or a test can put goods on the simulated pan and pull its cable:

    {"place_g": 12100}                 a load placed now (settles in settle_ms, default 400)
    {"place_g": 12100, "settle_ms": 0} the same, already settled
    {"empty": true}                    the pan is emptied
    {"unplug": true} / {"replug": true} the cable is pulled / put back
    {"garbage": 0.1}                   chance per frame of random bytes before it
    {"silent": true}                   the indicator stops sending (false: sends again)

Each command is answered on stdout with one JSON line: ``{"ok": true, "did": ...}``
or ``{"ok": false, "error": ...}`` for a line that is not a valid command (the
simulator keeps running). End of input leaves the simulator as it is.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from firmware_bridge.scenario import placement
from firmware_bridge.simulator import ScaleSimulator

MAX_G = 10_000_000


class ControlError(ValueError):
    """A command line that is not a valid command."""


def _flag(cmd: dict[str, Any], key: str) -> None:
    if cmd[key] is not True:
        raise ControlError(f"{key} takes true")


def apply_command(sim: ScaleSimulator, cmd: Any) -> str:
    """Carry out one parsed command on ``sim``; returns what was done."""
    if not isinstance(cmd, dict) or len(cmd.keys() - {"settle_ms"}) != 1:
        raise ControlError("a command is an object with one of place_g, empty, unplug, replug, "
                           "garbage, silent")
    key = str(next(iter(cmd.keys() - {"settle_ms"})))
    if "settle_ms" in cmd and key != "place_g":
        raise ControlError("settle_ms goes with place_g only")
    value = cmd[key]
    if key == "place_g":
        settle = cmd.get("settle_ms", 400)
        if type(value) is not int or not 0 <= value <= MAX_G:
            raise ControlError(f"place_g must be whole grams 0..{MAX_G}")
        if type(settle) is not int or not 0 <= settle <= 60_000:
            raise ControlError("settle_ms must be 0..60000")
        swing = min(150, value // 50 + 1) if settle else 0
        sim.play(placement(value, oscillation_g=swing, settle_ms=settle))
    elif key == "empty":
        _flag(cmd, key)
        sim.play(placement(0))
    elif key == "unplug":
        _flag(cmd, key)
        sim.unplug()
    elif key == "replug":
        _flag(cmd, key)
        sim.replug()
    elif key == "garbage":
        if type(value) not in (int, float) or not 0 <= value <= 1:
            raise ControlError("garbage must be a chance 0..1")
        sim.set_faults(garbage=float(value))
    elif key == "silent":
        if type(value) is not bool:
            raise ControlError("silent takes true or false")
        sim.set_faults(silent=value)
    else:
        raise ControlError(f"unknown command {key!r}")
    return key


def serve_control(sim: ScaleSimulator, lines: TextIO, out: TextIO) -> None:
    """Read commands until end of input, answering each on ``out``."""
    for line in lines:
        if not line.strip():
            continue
        try:
            did = apply_command(sim, json.loads(line))
            reply: dict[str, Any] = {"ok": True, "did": did}
        except (ValueError, ControlError) as exc:
            reply = {"ok": False, "error": str(exc)}
        print(json.dumps(reply, ensure_ascii=False), file=out, flush=True)
