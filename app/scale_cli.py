"""``acceptance-station scale simulate|read|detect`` and ``thermometer read``."""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.cli import UsageError
from firmware_bridge.protocols import NAMES

COMMON_BAUDS = (9600, 4800, 2400, 1200, 19200, 38400, 57600, 115200)


def register(sub: Any) -> None:
    p = sub.add_parser("scale", help="weighing indicators: simulate, read, detect")
    ssub = p.add_subparsers(dest="scale_cmd", required=True)

    sim = ssub.add_parser("simulate", help="run a simulated indicator on a pty")
    sim.add_argument("--protocol", required=True, choices=NAMES)
    sim.add_argument("--scenario", type=Path, help="scenario JSON (default: built-in loop)")
    sim.add_argument("--link", type=Path, help="stable symlink path to publish")
    sim.add_argument("--period-ms", type=int, default=100, help="continuous frame period")
    sim.add_argument("--unit", help="unit of the frames (default: the protocol's)")
    sim.add_argument("--garbage", type=float, default=0.0, metavar="P",
                     help="chance per frame of random bytes before it")
    sim.add_argument("--bad-checksum", type=float, default=0.0, metavar="P",
                     help="chance per frame of a corrupted frame")
    sim.add_argument("--split", action="store_true", help="write frames in pieces")
    sim.add_argument("--silence-every", type=float, metavar="S", help="go silent every S s")
    sim.add_argument("--silence-for", type=float, default=3.0, metavar="S")
    sim.add_argument("--unplug-every", type=float, metavar="S", help="unplug every S s")
    sim.add_argument("--unplug-for", type=float, default=2.0, metavar="S")
    sim.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    sim.add_argument("--seed", type=int, help="random seed for faults")
    sim.add_argument("--control", action="store_true",
                     help="read JSON commands on stdin (place_g, empty, unplug, replug, garbage, "
                     "silent); starts with an empty pan unless --scenario is given")
    sim.set_defaults(handler=_simulate)

    rd = ssub.add_parser("read", help="print one JSON line per reading")
    rd.add_argument("--port", required=True)
    rd.add_argument("--protocol", required=True, choices=NAMES)
    rd.add_argument("--count", type=int, help="stop after N readings")
    rd.add_argument("--baud", type=int, help="baud rate (default: the protocol's)")
    rd.add_argument("--unit", help="unit of frames without one (default: the protocol's)")
    rd.add_argument("--poll-interval-ms", type=int, default=200)
    rd.add_argument("--timeout", type=float, metavar="S",
                    help="exit 1 if no reading arrives for S seconds")
    rd.set_defaults(handler=_read)

    dt = ssub.add_parser("detect", help="find the protocol and line settings on a port")
    dt.add_argument("--port", required=True)
    dt.add_argument("--baud", type=int, action="append",
                    help="baud rate to try (repeatable; default: each protocol's)")
    dt.add_argument("--scan-bauds", action="store_true",
                    help=f"try the common rates {', '.join(map(str, COMMON_BAUDS))}")
    dt.add_argument("--listen-ms", type=int, default=1000)
    dt.add_argument("--probe-ms", type=int, default=400)
    dt.set_defaults(handler=_detect)

    th = sub.add_parser("thermometer", help="serial probe thermometer")
    tsub = th.add_subparsers(dest="thermometer_cmd", required=True)
    tr = tsub.add_parser("read", help='print one JSON line per reading: {"celsius", "raw"}')
    tr.add_argument("--port", required=True)
    tr.add_argument("--baud", type=int, default=9600)
    tr.add_argument("--pattern", help="regex with a group c holding °C (default: built-in)")
    tr.add_argument("--poll", help="line to send (CR LF added) to ask for a reading")
    tr.add_argument("--count", type=int, help="stop after N readings")
    tr.add_argument("--timeout", type=float, metavar="S",
                    help="exit 1 if no reading arrives for S seconds")
    tr.set_defaults(handler=_thermometer_read)


def _simulate(args: argparse.Namespace) -> int:
    from firmware_bridge.scenario import DEFAULT, constant, load_scenario
    from firmware_bridge.simulator import ScaleSimulator

    try:
        scenario = load_scenario(args.scenario) if args.scenario else \
            (constant(0) if args.control else DEFAULT)
        sim = ScaleSimulator(args.protocol, scenario, link_path=args.link,
                             period_s=args.period_ms / 1000, unit=args.unit, seed=args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    sim.set_faults(garbage=args.garbage, bad_checksum=args.bad_checksum, split=args.split)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sim.start()
    print(sim.path, flush=True)
    if args.control:
        from firmware_bridge.control import serve_control

        threading.Thread(target=serve_control, args=(sim, sys.stdin, sys.stdout), daemon=True,
                         name="scale-control").start()
    t0 = time.monotonic()
    plan = _FaultPlan(args, t0)
    try:
        while not stop.is_set():
            now = time.monotonic()
            if args.duration is not None and now - t0 >= args.duration:
                break
            plan.step(sim, now)
            stop.wait(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


class _FaultPlan:
    """Periodic silence and unplug windows for ``scale simulate``."""

    def __init__(self, args: argparse.Namespace, t0: float) -> None:
        self.args = args
        self.t0 = t0
        self.silent = False
        self.unplugged = False

    def step(self, sim: Any, now: float) -> None:
        a = self.args
        t = now - self.t0
        if a.silence_every:
            want = t % a.silence_every >= a.silence_every - a.silence_for
            if want != self.silent:
                sim.set_faults(silent=want)
                self.silent = want
        if a.unplug_every:
            want = t % a.unplug_every >= a.unplug_every - a.unplug_for
            if want != self.unplugged:
                sim.unplug() if want else sim.replug()
                self.unplugged = want


def print_readings(link: Any, count: int | None, timeout: float | None,
                    render: Callable[[Any], dict[str, object]]) -> int:
    """Run ``link`` and print one JSON line per reading until ``count`` or a timeout."""
    if count is not None and count < 1:
        raise UsageError("--count must be at least 1")
    link.start()
    printed = 0
    try:
        while count is None or printed < count:
            try:
                item = link.readings.get(timeout=timeout)
            except queue.Empty:
                print(f"error: no reading for {timeout} s (state {link.state.value})",
                      file=sys.stderr)
                return 1
            print(json.dumps(render(item), ensure_ascii=False), flush=True)
            printed += 1
    finally:
        link.stop()
    return 0


def _read(args: argparse.Namespace) -> int:
    from firmware_bridge.link import LinkSettings, ScaleLink

    try:
        settings = LinkSettings(port=args.port, protocol=args.protocol, baud=args.baud,
                                unit=args.unit, poll_interval_s=args.poll_interval_ms / 1000)
        link = ScaleLink(settings, readings=queue.Queue(10000))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return print_readings(link, args.count, args.timeout, lambda r: r.to_json_dict())


def _detect(args: argparse.Namespace) -> int:
    from firmware_bridge.detect import detect, is_console_port

    if is_console_port(args.port):
        raise UsageError(f"{args.port} is the Pi's console port, not a scale")
    bauds = list(COMMON_BAUDS) if args.scan_bauds else args.baud
    result = detect(args.port, bauds, args.listen_ms / 1000, args.probe_ms / 1000)
    if result.found is not None:
        f = result.found
        print(json.dumps({"protocol": f.protocol, "baud": f.line.baud, "bytesize": f.line.bytesize,
                          "parity": f.line.parity, "stopbits": f.line.stopbits, "how": f.how,
                          "readings": f.readings, "bad_frames": f.bad_frames}), flush=True)
        return 0
    for att in result.attempts:
        print(f"{att.protocol} at {att.line.label()} ({att.how}): {att.reason()}")
    print(f"nothing matched on {args.port}")
    return 1


def _thermometer_read(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from firmware_bridge.protocols.base import escape_raw
    from firmware_bridge.thermometer import ThermometerLink, ThermometerSection

    fields = {k: v for k, v in (("port", args.port), ("baud", args.baud),
                                ("pattern", args.pattern), ("poll", args.poll)) if v is not None}
    try:
        link = ThermometerLink(ThermometerSection(**fields))
    except (ValueError, ValidationError) as exc:
        raise UsageError(str(exc)) from exc
    return print_readings(link, args.count, args.timeout,
                           lambda r: {"celsius": r.celsius, "raw": escape_raw(r.raw)})
