"""Core subcommands: config, keys, verify, orders, decide, ledger, demo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edge.cli import UsageError
from edge.config import ConfigError, load_config


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="check a station config file")
    csub = p.add_subparsers(dest="config_cmd", required=True)
    chk = csub.add_parser("check", help="validate a config file and print its digest")
    chk.add_argument("path", type=Path)
    chk.set_defaults(handler=_config_check)


def _config_check(args: argparse.Namespace) -> int:
    try:
        load_config(args.path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    print(f"{args.path}: ok")
    return 0
