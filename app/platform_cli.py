"""CLI: ``acceptance-station central indicators`` (evaluate warnings, deliver them; docs/indicators.md)."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from core.errors import UsageError

if TYPE_CHECKING:
    from central.config import CentralConfig


def add_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("action", nargs="?", choices=("run", "indicators"), default="run",
                   help="run: ingest workers + HTTP API (default); indicators: evaluate warnings")
    c.add_argument("--date", help="indicators: the local day to evaluate (YYYY-MM-DD, default today)")
    c.add_argument("--periodic", action="store_true",
                   help="indicators: evaluate yesterday and today every [indicators] interval_s")


def indicators(cfg: CentralConfig, args: argparse.Namespace, stop: Callable[[], threading.Event]) -> int:
    """Evaluate one day (or, ``--periodic``, until ``stop()``'s event is set); exit 2 on bad input."""
    from central.platform import engine, service
    from central.platform.data import DataError
    from central.store import Store
    try:
        day = date.fromisoformat(args.date) if args.date else engine.local_today(cfg.indicators)
    except ValueError as exc:
        raise UsageError(f"--date: {exc}") from exc
    store = Store(cfg.store.dsn)
    try:
        if args.periodic:
            service.periodic(store, cfg, stop())
        else:
            print(json.dumps(service.cycle(store, cfg, day)))
    except DataError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        store.close()
    return 0

