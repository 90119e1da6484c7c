"""The ``acceptance-station`` command.

Each subsystem registers its own subcommands through a ``register(subparsers)``
function of a module listed in ``COMMANDS``; heavy imports (OpenCV, paho) stay inside
the handlers so ``--help`` and pure commands start fast. A named command imports
only the module that registers it: every process of the system (station, uplink,
central and each of its workers) is a ``acceptance-station`` command, and importing
the other thirteen modules (their configs, pydantic models) cost each start about
0.2 s of CPU. ``--help``, ``--version`` and anything unknown build the whole parser.
A handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence

from core import __version__, log
from core.errors import UsageError

__all__ = ["COMMANDS", "COMMAND_MODULES", "UsageError", "build_parser", "entry", "main"]

# module -> the subcommands its register() adds (tests/test_core_cli.py keeps the two in step).
COMMANDS: dict[str, tuple[str, ...]] = {
    "app.commands": ("config", "keys", "verify", "orders", "decide", "ledger"),
    "app.barcode_cli": ("barcode",),
    "app.video_cli": ("video",),
    "app.scale_cli": ("scale", "thermometer"),
    "app.rapid_test_cli": ("rapid-test",),
    "app.run": ("run",),
    "app.ops": ("doctor", "status"),
    "app.sync_cli": ("sync", "central", "central-command", "central-verify"),
    "app.update_cli": ("release", "update"),
    "app.roster_cli": ("roster",),
    "app.central_admin_cli": ("central-token", "central-account", "broker-acl"),
    "app.rollout_cli": ("central-admin",),
    "app.enrol_cli": ("enrol",),
    # The demo is a plugin of the test bed, named (not imported) so the runtime packages
    # never import the test tooling.
    "testbed.demo": ("demo",),
}
COMMAND_MODULES: tuple[str, ...] = tuple(COMMANDS)
_OWNER = {command: module for module, commands in COMMANDS.items() for command in commands}


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The parser with the subcommands of ``modules`` (all of them by default)."""
    parser = argparse.ArgumentParser(
        prog="acceptance-station",
        description="Food-acceptance station for school canteens.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--log-level", default="INFO", help="logging level (stderr)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def owner_of(argv: Sequence[str]) -> str | None:
    """The module registering the command ``argv`` names; None for help, version or no command."""
    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    pre.add_argument("--log-level")
    try:
        _, rest = pre.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):  # the whole parser will say what is wrong
        return None
    return _OWNER.get(rest[0]) if rest else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    module = owner_of(argv)
    parser = build_parser(COMMAND_MODULES if module is None else (module,))
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
