"""The serial link to one indicator: a thread that keeps reading, whatever happens.

A thin adapter around pyserial (the only code here that touches a port). It
opens the configured path (a stable one such as ``/dev/serial/by-id/...``),
polls or listens as the protocol says, feeds the bytes to the protocol's pure
parser, applies the stability policy and hands each reading to the consumer.
When the port vanishes, errors, or stays silent, it closes it and reopens it
with exponential backoff, forever, until stopped: a driver that gives up on the
first read error never recovers without a re-plug, this one does.

Its state (connected, silent, bad_frames, reconnecting, disconnected) is
published to a callback and logged once per change, never per frame. Every
reading is delivered, including the first one after start (an item already on
the pan is read) and repeats of the same weight (nothing is reset to zero).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Generic, Self, TypeVar

from core import log
from core.backoff import Backoff
from core.threads import Worker
from firmware_bridge.protocols import get_spec
from firmware_bridge.protocols.base import OK, LineSettings, Parser, Reading
from firmware_bridge.serialport import open_port
from firmware_bridge.stability import StabilityDetector, StabilityMode, StabilityParams, decide

logger = logging.getLogger("firmware_bridge.link")
T = TypeVar("T")


class LinkState(StrEnum):
    CONNECTED = "connected"
    SILENT = "silent"
    BAD_FRAMES = "bad_frames"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class StateChange:
    state: LinkState
    reason: str
    at: float  # time.monotonic()


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkTiming:
    """How a link polls, notices silence and bad frames, and backs off."""

    poll_interval_s: float = 0.2
    silence_timeout_s: float = 3.0
    reconnect_initial_s: float = 0.1
    reconnect_max_s: float = 1.0
    bad_frames_threshold: int = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSettings(LinkTiming):
    """One indicator: where, which protocol, and the stability policy."""

    port: str
    protocol: str
    baud: int | None = None
    unit: str | None = None
    stability: StabilityParams = field(default_factory=StabilityParams)
    stability_mode: StabilityMode = "flag"
    # The indicator's range: a weight outside it is line noise, refused and counted.
    min_g: int = -300_000
    max_g: int = 300_000


class UnsupportedCommand(Exception):
    """The protocol has no such command (e.g. clear tare on an A&D indicator)."""


class _Reopen(Exception):
    """Close and reopen the port (silence)."""


class SerialLink(Worker, Generic[T]):
    """The device-independent part: thread, reopen loop with backoff, states, queue.

    Subclasses say what to send as a poll, how to turn bytes into items and
    which line settings to open with; everything about staying connected is here.
    """

    kind = "serial"

    def __init__(
        self,
        port: str,
        line: LineSettings,
        timing: LinkTiming,
        readings: queue.Queue[T] | None = None,
        on_state: Callable[[StateChange], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.line = line
        self.timing = timing
        if readings is None:
            readings = queue.Queue(1000)
        self.readings: queue.Queue[T] = readings
        self.on_state = on_state
        self.clock = clock
        self.state = LinkState.DISCONNECTED
        self.latest: T | None = None
        self.latest_at: float | None = None  # clock() when ``latest`` arrived
        self.delivered = 0
        self.dropped = 0
        self._commands: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        Worker.__init__(self, f"{self.kind}-link:{port}")

    # -- hooks ---------------------------------------------------------------
    def _begin(self) -> None:
        """A new session (port just opened): fresh parser state."""

    def _poll(self) -> bytes | None:
        """Bytes to send every poll interval, or None for a device that streams."""
        return None

    def _feed(self, data: bytes, now: float) -> tuple[list[T], int]:
        """(items completed by ``data``, bad frames seen in it)."""
        raise NotImplementedError

    # -- control -----------------------------------------------------------
    def start(self) -> Self:
        Worker.start(self)
        return self

    def stop(self, timeout: float = 2.0) -> None:
        Worker.stop(self, timeout)
        self._set_state(LinkState.DISCONNECTED, "stopped")

    def fresh(self, max_age_s: float) -> T | None:
        """The latest reading if it arrived within ``max_age_s``, else None (stale)."""
        at = self.latest_at
        if at is None or self.clock() - at > max_age_s:
            return None
        return self.latest

    def send(self, data: bytes) -> None:
        """Queue bytes for the device; written by the link thread when connected."""
        self._commands.put(data)

    # -- the thread --------------------------------------------------------
    def _set_state(self, state: LinkState, reason: str, at: float | None = None) -> None:
        """Publish a new state; ``at`` is when it began (the first frame of a session)."""
        if state == self.state:
            return
        self.state = state
        level = logging.INFO if state == LinkState.CONNECTED else logging.WARNING
        log.kv(logger, level, f"{self.kind} link state", port=self.port, state=state.value,
               reason=reason)
        if self.on_state is not None:
            try:
                self.on_state(StateChange(state, reason, self.clock() if at is None else at))
            except Exception:  # a consumer's bug must not stop the link
                logger.exception("link state callback failed")

    def _run(self) -> None:
        import serial

        t = self.timing
        backoff = Backoff(t.reconnect_initial_s, t.reconnect_max_s)
        ever_open = False
        while not self._stop.is_set():
            try:
                port = open_port(self.port, self.line)
            except (OSError, serial.SerialException) as exc:
                state = LinkState.RECONNECTING if ever_open else LinkState.DISCONNECTED
                self._set_state(state, _reason(exc))
                self._stop.wait(backoff.next())
                continue
            ever_open = True
            backoff.reset()
            reason = "stopped"
            try:
                self._session(port)
            except _Reopen as exc:
                reason = str(exc)
            except (OSError, serial.SerialException) as exc:
                reason = _reason(exc)
            except Exception as exc:  # a bug must not end the loop: log it, reopen
                logger.exception("%s link session failed", self.kind)
                reason = f"internal error: {_reason(exc)}"
            finally:
                with contextlib.suppress(OSError, serial.SerialException):
                    port.close()
            if self._stop.is_set():
                break
            if self.state != LinkState.SILENT:
                self._set_state(LinkState.RECONNECTING, reason)
            self._stop.wait(backoff.next())

    def _session(self, port: Any) -> None:
        t = self.timing
        self._begin()
        poll = self._poll()
        if self.state != LinkState.SILENT:
            self._set_state(LinkState.CONNECTED, "port open")
        now = self.clock()
        last_rx = now
        next_poll = now
        bad_run = 0
        while not self._stop.is_set():
            while not self._commands.empty():
                port.write(self._commands.get_nowait())
            if poll is not None and now >= next_poll:
                port.write(poll)
                next_poll = now + t.poll_interval_s
            waiting = port.in_waiting
            data = port.read(waiting if waiting else 1)
            now = self.clock()
            if not data:
                quiet = now - last_rx
                if quiet >= t.silence_timeout_s:
                    self._set_state(LinkState.SILENT, f"no data for {quiet:.1f} s")
                if quiet >= 2 * t.silence_timeout_s:
                    raise _Reopen(f"silent for {quiet:.1f} s")
                continue
            last_rx = now
            got, bad = self._feed(data, now)
            bad_run += bad
            if got:
                bad_run = 0
                self._set_state(LinkState.CONNECTED, "readings arrive", now)
                for item in got:
                    self._deliver(item)
            elif bad_run >= t.bad_frames_threshold:
                self._set_state(LinkState.BAD_FRAMES, f"{bad_run} bad frames in a row")

    def _deliver(self, item: T) -> None:
        self.latest = item
        self.latest_at = self.clock()
        self.delivered += 1
        try:
            self.readings.put_nowait(item)
        except queue.Full:  # a stalled consumer loses the oldest, not the newest
            self.dropped += 1
            with contextlib.suppress(queue.Empty):
                self.readings.get_nowait()
            self.readings.put_nowait(item)


class ScaleLink(SerialLink[Reading]):
    """Reads one weighing indicator on its own thread; see the module docstring."""

    kind = "scale"

    def __init__(
        self,
        settings: LinkSettings,
        readings: queue.Queue[Reading] | None = None,
        on_state: Callable[[StateChange], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.spec = get_spec(settings.protocol)
        line = self.spec.line
        if settings.baud:
            line = replace(line, baud=settings.baud)
        super().__init__(settings.port, line, settings, readings, on_state, clock)
        # Built now so a bad unit is refused here (ValueError), not in the thread.
        self.parser: Parser[Reading] = self.spec.new_parser(settings.unit)
        self._detector = StabilityDetector(settings.stability)
        self.out_of_range = 0  # weights outside min_g..max_g: refused, never delivered
        self.unconfirmed = 0  # unchecked frames not (yet) repeated by the next one
        self._confirm = self.spec.check == "none" and self.spec.mode == "continuous"
        self._held: tuple[int, bool | None] | None = None

    def zero(self) -> None:
        self._command("zero")

    def tare(self) -> None:
        self._command("tare")

    def clear_tare(self) -> None:
        self._command("clear_tare")

    def _command(self, name: str) -> None:
        data = self.spec.command(name)
        if data is None:
            raise UnsupportedCommand(f"{self.spec.name} has no {name} command")
        self.send(data)

    def _begin(self) -> None:
        self.parser = self.spec.new_parser(self.settings.unit)
        self._detector = StabilityDetector(self.settings.stability)
        self._held = None

    def _poll(self) -> bytes | None:
        return self.spec.command("poll") if self.spec.mode == "polled" else None

    def _feed(self, data: bytes, now: float) -> tuple[list[Reading], int]:
        parser = self.parser
        bad_before = parser.bad_frames
        got, refused = [], 0
        readings = parser.feed(data)
        for r, after_noise in zip(readings, parser.after_noise, strict=True):
            if r.weight_g is not None and not self.settings.min_g <= r.weight_g <= self.settings.max_g:
                self.out_of_range += 1
                refused += 1
                self._held = None
            elif self._confirmed(r, after_noise):
                got.append(self._stabilise(r, now))
        return got, parser.bad_frames - bad_before + refused

    def _confirmed(self, r: Reading, after_noise: bool) -> bool:
        """A protocol without a check (``spec.check == "none"``) that streams: a weight is
        delivered only when the frame just before it (nothing refused in between)
        carried the same one, so a single frame corrupted on the line (a flipped bit
        in a digit) or a number in line noise is never delivered."""
        if not self._confirm:
            return True
        if r.weight_g is None or after_noise:
            self._held = None
        if r.weight_g is None:
            return True
        key = (r.weight_g, r.net)
        same, self._held = key == self._held, key
        if not same:
            self.unconfirmed += 1
        return same

    def _stabilise(self, r: Reading, now: float) -> Reading:
        weight = r.weight_g if r.status == OK else None
        detected = self._detector.update(weight, int(now * 1000))
        if weight is None:
            return replace(r, received_mono=now)
        stable = decide(r.stable, detected, self.settings.stability_mode)
        return replace(r, stable=stable, received_mono=now)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
