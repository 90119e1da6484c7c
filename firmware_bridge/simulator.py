"""Simulated weighing indicators on real pseudo-terminals.

Each simulator owns a pty pair and writes real frames of its protocol on the
master side; the station (or ``scale read``) opens the slave like any serial
port. Because a pty's slave name changes whenever a pty is re-created, the
simulator publishes a *stable symlink* (default ``/tmp/acceptance-scale-<name>``)
that it re-points atomically to the current slave: "unplug" closes the pty and
removes the link, "replug" opens a fresh pty and puts the link back, which is
how ``/dev/serial/by-id/...`` behaves when a USB adapter is pulled and
re-inserted.

It streams (continuous protocols) or answers polls (polled ones), obeys zero,
tare and clear-tare, and plays a ``Scenario``. Fault switches inject garbage,
corrupted frames ("bad checksum": the A9 check is wrong; other frames get a
non-ASCII byte), frames split in pieces, and silence. Style: OctoPrint's
virtual printer, but small.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import threading
import time
import tty
from dataclasses import dataclass, replace
from pathlib import Path

from core import log
from firmware_bridge.protocols import get_spec, toledo8217, xk3190_a9
from firmware_bridge.protocols.base import DeviceState, format_weight
from firmware_bridge.scenario import DEFAULT, Scenario

logger = logging.getLogger("firmware_bridge.simulator")


@dataclass(frozen=True, slots=True)
class Faults:
    garbage: float = 0.0  # chance per frame of 1..16 random bytes before it
    bad_checksum: float = 0.0  # chance per frame of a corrupted frame
    split: bool = False  # write every frame in 2..3 pieces with short pauses
    silent: bool = False  # send nothing, answer nothing


def open_pty_link(link_path: Path) -> tuple[int, int]:
    """A raw pty pair (master non-blocking) whose slave ``link_path`` names, re-pointed atomically."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    tmp = link_path.with_name(link_path.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.ttyname(slave), tmp)
    os.replace(tmp, link_path)
    return master, slave


class ScaleSimulator:
    """One simulated indicator on a pty, with a stable symlink path."""

    def __init__(
        self,
        protocol: str,
        scenario: Scenario = DEFAULT,
        link_path: Path | None = None,
        period_s: float = 0.1,
        unit: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.spec = get_spec(protocol)
        self.scenario = scenario
        self.unit = unit or self.spec.default_unit
        self.period_s = period_s
        self.link_path = link_path or Path(f"/tmp/acceptance-scale-{self.spec.name}")
        self.faults = Faults()
        self.zero_offset_g = 0
        self.tare_g = 0
        self.commands_seen: list[bytes] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._frame_no = 0
        self._inbuf = bytearray()

    # -- lifecycle ---------------------------------------------------------
    @property
    def path(self) -> str:
        return str(self.link_path)

    def start(self) -> ScaleSimulator:
        self._t0 = time.monotonic()
        self._plug()
        self._thread = threading.Thread(
            target=self._run, name=f"scale-sim:{self.spec.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._unplug()

    def __enter__(self) -> ScaleSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def unplug(self) -> None:
        """Close the pty and remove the stable link: the cable is pulled."""
        log.kv(logger, logging.INFO, "simulator unplugged", path=self.path)
        self._unplug()

    def replug(self) -> None:
        """A fresh pty behind the same stable link: the cable is back."""
        self._plug()
        log.kv(logger, logging.INFO, "simulator replugged", path=self.path)

    def inject(self, data: bytes, timeout: float = 30.0) -> None:
        """Write raw bytes (a noise burst) on the line, waiting while the pty is full."""
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view and time.monotonic() < deadline:
            master = self._master
            if master is None:
                return
            try:
                view = view[os.write(master, view[:4096]) :]
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                return

    def play(self, scenario: Scenario) -> None:
        """Switch to another scenario from now on (the demo places and removes items)."""
        with self._lock:
            self.scenario = scenario
            self._t0 = time.monotonic()

    def set_faults(self, **changes: object) -> None:
        with self._lock:
            self.faults = replace(self.faults, **changes)  # type: ignore[arg-type]

    def _plug(self) -> None:
        master, slave = open_pty_link(self.link_path)
        with self._lock:
            self._master, self._slave = master, slave
            self._inbuf.clear()
        log.kv(logger, logging.DEBUG, "simulator pty", path=self.path, pty=os.ttyname(slave))

    def _unplug(self) -> None:
        with self._lock:
            fds = (self._master, self._slave)
            self._master = self._slave = None
        with contextlib.suppress(FileNotFoundError):
            self.link_path.unlink()
        for fd in fds:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    # -- the device --------------------------------------------------------
    def state(self) -> DeviceState:
        """What the indicator shows now (scenario, zero offset and tare applied)."""
        with self._lock:  # play() swaps both together
            scenario, t0 = self.scenario, self._t0
        t_ms = int((time.monotonic() - t0) * 1000)
        gross, settled, overload = scenario.at(t_ms, self._frame_no)
        shown = gross - self.zero_offset_g
        weight = shown - self.tare_g if self.tare_g else shown
        return DeviceState(weight, settled, self.tare_g != 0, overload)

    def frame(self) -> bytes:
        self._frame_no += 1
        return self.spec.encode(self.state(), self.unit)

    def _run(self) -> None:
        next_frame = time.monotonic()
        while not self._stop.is_set():
            master = self._master
            if master is None:
                self._stop.wait(0.02)
                continue
            timeout = max(0.0, next_frame - time.monotonic())
            try:
                ready, _, _ = select.select([master], [], [], min(timeout, 0.05))
            except (OSError, ValueError):
                continue  # unplugged under us
            if ready:
                self._read_commands(master)
            if self.spec.mode == "continuous" and time.monotonic() >= next_frame:
                next_frame += self.period_s
                if next_frame < time.monotonic():
                    next_frame = time.monotonic() + self.period_s
                self._send(self.frame())

    def _read_commands(self, master: int) -> None:
        try:
            data = os.read(master, 1024)
        except OSError:
            return
        if self.faults.silent:
            return
        self._inbuf += data
        for token in self._tokens():
            self.commands_seen.append(token)
            reply = self._command(token)
            if reply:
                self._send(reply)

    def _tokens(self) -> list[bytes]:
        buf = self._inbuf
        if not self.spec.command_eol:
            out = [bytes([b]) for b in buf if b > 0x20]
            buf.clear()
            return out
        out = []
        while True:
            idx = min((i for i in (buf.find(b"\r"), buf.find(b"\n")) if i >= 0), default=-1)
            if idx < 0:
                if len(buf) > 64:
                    buf.clear()
                return out
            token = bytes(buf[:idx]).strip()
            del buf[: idx + 1]
            if token:
                out.append(token)

    def _command(self, token: bytes) -> bytes | None:
        spec = self.spec
        if token in (spec.poll, spec.probe) or (spec.name == "mt-sics" and token == b"S"):
            return self.frame()
        current = self.state()
        if token == spec.zero:
            self.zero_offset_g += current.weight_g + self.tare_g
            self.tare_g = 0
            return b"Z A\r\n" if spec.name == "mt-sics" else None
        if token == spec.tare:
            if spec.name == "hx711":  # the bridge's "tare" re-zeroes the load cell
                self.zero_offset_g += current.weight_g
                return b"Tare done\r\n"
            self.tare_g += current.weight_g
            if spec.name == "mt-sics":
                value = format_weight(self.tare_g, self.unit, 3).rjust(10)
                return f"T S {value} {self.unit}\r\n".encode()
            return None
        if token == spec.clear_tare:
            self.tare_g = 0
            return b"TAC A\r\n" if spec.name == "mt-sics" else None
        if spec.name == "mt-sics":
            return b"ES\r\n"
        if spec.name == "toledo8217":
            return toledo8217.status_reply(toledo8217.BIT_BAD_COMMAND)
        return None

    def _send(self, frame: bytes) -> None:
        faults = self.faults
        if faults.silent:
            return
        rng = self._rng
        if faults.bad_checksum and rng.random() < faults.bad_checksum:
            frame = corrupt(frame, self.spec.name, rng)
        if faults.garbage and rng.random() < faults.garbage:
            frame = rng.randbytes(rng.randint(1, 16)) + frame
        if faults.split and len(frame) > 2:
            cuts = sorted(rng.sample(range(1, len(frame)), min(2, len(frame) - 1)))
            pieces = [frame[i:j] for i, j in zip([0, *cuts], [*cuts, len(frame)], strict=True)]
        else:
            pieces = [frame]
        for n, piece in enumerate(pieces):
            if n:
                time.sleep(0.003)
            self._write(piece)

    def _write(self, data: bytes) -> None:
        master = self._master
        if master is None:
            return
        with contextlib.suppress(OSError):  # buffer full (nobody reading) or unplugged
            os.write(master, data)


def corrupt(frame: bytes, protocol: str, rng: random.Random) -> bytes:
    """A frame the parser must refuse: a wrong A9 check, else one non-ASCII byte."""
    if protocol == xk3190_a9.SPEC.name and len(frame) == xk3190_a9.FRAME_LEN:
        bad = bytes([frame[9] ^ 0x01 if frame[9] != 0x30 else 0x31])
        return frame[:9] + bad + frame[10:]
    digits = [i for i, b in enumerate(frame) if 0x30 <= b <= 0x39]
    i = rng.choice(digits) if digits else 0
    return frame[:i] + b"\xff" + frame[i + 1 :]


__all__ = ["Faults", "ScaleSimulator", "corrupt"]
