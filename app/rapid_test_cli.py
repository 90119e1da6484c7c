"""``acceptance-station rapid-test read|simulate``: the rapid-test instrument (快检仪).

``read`` prints one JSON line per result from a port; ``simulate`` runs a
simulated instrument on a pty (its stable link path printed first) driven by
JSON lines on stdin, so trainers and tests can produce results from outside.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from app.cli import UsageError
from app.scale_cli import print_readings

ENCODINGS = ("gb18030", "utf-8")


def register(sub: Any) -> None:
    p = sub.add_parser("rapid-test", help="rapid-test instrument (快检仪): read, simulate")
    rsub = p.add_subparsers(dest="rapid_test_cmd", required=True)
    rd = rsub.add_parser("read", help='print one JSON line per result: {"sample", "inhibition_pct", '
                                      '"passed", "sample_no", "raw"}')
    rd.add_argument("--port", required=True)
    rd.add_argument("--baud", type=int, default=9600)
    rd.add_argument("--encoding", choices=ENCODINGS, default="gb18030")
    rd.add_argument("--count", type=int, help="stop after N results")
    rd.add_argument("--timeout", type=float, metavar="S", help="exit 1 if no result arrives for S seconds")
    rd.set_defaults(handler=_read)
    sim = rsub.add_parser("simulate", help="a simulated instrument on a pty, driven by JSON lines on stdin")
    sim.add_argument("--link", type=Path, required=True, help="stable symlink path to publish")
    sim.add_argument("--encoding", choices=ENCODINGS, default="gb18030")
    sim.set_defaults(handler=_simulate)


def _read(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from firmware_bridge.protocols.base import escape_raw
    from firmware_bridge.rapid_test import RapidTestLink, RapidTestSection

    try:
        link = RapidTestLink(RapidTestSection(port=args.port, baud=args.baud, encoding=args.encoding))
    except (ValueError, ValidationError) as exc:
        raise UsageError(str(exc)) from exc
    return print_readings(link, args.count, args.timeout, lambda r: {
        "sample": r.sample, "inhibition_pct": r.inhibition_pct, "passed": r.passed,
        "sample_no": r.sample_no, "raw": escape_raw(r.raw)})


def _simulate(args: argparse.Namespace) -> int:
    from firmware_bridge.rapid_test_sim import RapidTestSimulator, serve_control

    try:
        sim = RapidTestSimulator(args.link, args.encoding)
    except OSError as exc:
        raise UsageError(f"{args.link}: {exc}") from exc
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(args.link, flush=True)
    def control() -> None:
        serve_control(sim, sys.stdin, sys.stdout)
        done.set()  # stdin ended: the trainer or test is done with it

    threading.Thread(target=control, daemon=True, name="rapid-test-control").start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.close()
    return 0
