"""The ``acceptance-station`` command.

Each subsystem registers its own subcommands through a ``register(subparsers)``
function listed in ``COMMAND_MODULES``; heavy imports (OpenCV, paho) stay inside
the handlers so ``--help`` and pure commands start fast. A handler returns the
process exit code.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence

from core import __version__, log
from core.errors import UsageError

__all__ = ["UsageError", "build_parser", "entry", "main"]

COMMAND_MODULES: tuple[str, ...] = (
    "app.commands",
    "app.barcode_cli",
    "app.video_cli",
    "app.scale_cli",
    "app.rapid_test_cli",
    "app.run",
    "app.ops",
    "app.sync_cli",
    "app.update_cli",
    "app.roster_cli",
    "app.central_admin_cli",
    "app.rollout_cli",
    "app.enrol_cli",
    # The demo is a plugin of the test bed, named (not imported) so the runtime packages
    # never import the test tooling.
    "testbed.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acceptance-station",
        description="Food-acceptance station for school canteens.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--log-level", default="INFO", help="logging level (stderr)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log.setup(args.log_level)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def entry() -> int:
    """The process's entry point (the console script, ``python -m app.cli``): ``main``, then
    every object still alive frozen out of the garbage collector's last pass.

    An exiting interpreter collects every object it holds; pydantic's and FastAPI's models
    are many cyclic objects, so that pass cost each command about 0.1 s of CPU and the
    station 0.3 s (a second of wall time under load), for nothing: the process is ending.
    Not in ``main``, which tests call in their own process."""
    try:
        return main()
    finally:  # argparse's --help and errors leave by SystemExit
        gc.freeze()


if __name__ == "__main__":
    sys.exit(entry())
