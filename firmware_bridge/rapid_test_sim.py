"""A simulated rapid-test instrument on a real pty (trainers, the demo, tests).

Like the scale simulator it publishes a stable symlink to its pty's slave
(``link_path``); each ``send`` writes one result line as the instrument prints
it (``rapid_test.format_result``), ``send_raw`` any bytes (noise, headers,
another model's format). ``serve_control`` drives it with JSON lines on stdin:
``{"sample": "上海青", "inhibition_pct": "23.5"}`` (optional ``passed``,
``sample_no``), ``{"raw": "text"}``; each answered with ``{"ok": true}`` or
``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
from pathlib import Path
from typing import Any, TextIO

from firmware_bridge.rapid_test import RapidResult, format_result, parse_result
from firmware_bridge.simulator import open_pty_link

MAX_COMMAND = 4096


class RapidTestSimulator:
    def __init__(self, link_path: Path, encoding: str = "gb18030") -> None:
        self.link_path = link_path
        self.encoding = encoding
        self._master, self._slave = open_pty_link(link_path)

    def send(self, r: RapidResult) -> None:
        self.send_raw(format_result(r, self.encoding))

    def send_raw(self, data: bytes) -> None:
        """Write all of ``data`` (waits while the reader is slow; the pty buffer is small)."""
        view = memoryview(data)
        while view:
            select.select([], [self._master], [], 1.0)
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(self._master, view):]

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.link_path.unlink()
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def command_result(cmd: Any) -> RapidResult | str:
    """What a control command asks the instrument to print; ValueError says what is wrong."""
    if not isinstance(cmd, dict):
        raise ValueError("a command is a JSON object")
    if set(cmd) == {"raw"} and isinstance(cmd["raw"], str):
        return cmd["raw"] + "\r\n"  # written in the simulator's encoding
    unknown = set(cmd) - {"sample", "inhibition_pct", "passed", "sample_no"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    r = RapidResult(str(cmd.get("sample", "")), cmd.get("inhibition_pct"), cmd.get("passed"),
                    str(cmd.get("sample_no", "")))
    if parse_result(format_result(r, "utf-8").decode("utf-8")) != r:
        raise ValueError("not a result the instrument could print (sample 1-32 characters, "
                         "inhibition_pct 0-100 with at most 2 decimals, passed true/false)")
    return r


def serve_control(sim: RapidTestSimulator, inp: TextIO, out: TextIO) -> None:
    """Apply JSON commands from ``inp`` until it ends; one JSON answer per line on ``out``."""
    for line in inp:
        try:
            if len(line) > MAX_COMMAND:
                raise ValueError("command too long")
            what = command_result(json.loads(line))
            if isinstance(what, str):
                sim.send_raw(what.encode(sim.encoding, "replace"))
            else:
                sim.send(what)
            answer: dict[str, Any] = {"ok": True}
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            answer = {"ok": False, "error": str(exc)}
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        out.flush()
