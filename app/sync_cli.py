"""CLI: ``acceptance-station sync`` (the uplink) and ``acceptance-station central``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import platform_cli
from core import log
from core.config import ConfigError
from core.errors import UsageError

if TYPE_CHECKING:
    from app.config import StationConfig
    from central.config import CentralConfig
    from sync.uplink import Uplink

logger = logging.getLogger("app.sync_cli")


def register(sub: Any) -> None:
    p = sub.add_parser("sync", help="run the uplink to the central platform (MQTT), or show its state")
    p.add_argument("--config", type=Path, required=True, help="station config file (TOML)")
    p.add_argument("--status", action="store_true", help="print the uplink's state as JSON and exit")
    p.set_defaults(handler=_sync)
    c = sub.add_parser("central", help="run the reference central platform (ingest workers, HTTP API)")
    c.add_argument("--config", type=Path, required=True, help="central config file (TOML)")
    c.add_argument("--worker", type=int, metavar="N",
                   help="run only ingest worker number N in this process (no HTTP)")
    platform_cli.add_arguments(c)
    c.set_defaults(handler=_central)
    k = sub.add_parser("central-command", help="send a command to a station (as central)")
    k.add_argument("--config", type=Path, required=True, help="central config file (TOML)")
    k.add_argument("--station", required=True, help="station id")
    k.add_argument("command", choices=("orders.refresh", "resend_from"), help="the command")
    k.add_argument("--seq", type=int, help="for resend_from: the first seq to resend")
    k.add_argument("--date", help="for orders.refresh: one delivery date (YYYY-MM-DD)")
    k.set_defaults(handler=_central_command)
    v = sub.add_parser("central-verify",
                       help="what central holds for a station: count, head seq and hash, chain check")
    v.add_argument("--config", type=Path, required=True, help="central config file (TOML)")
    v.add_argument("--station", required=True, help="station id")
    v.add_argument("--json", action="store_true", help="print the report as one JSON object")
    v.set_defaults(handler=_central_verify)


def _stop_event() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _sync(args: argparse.Namespace) -> int:
    from app.config import load_config
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    if args.status:
        from core.db import connect
        from edge.journal import JournalReader
        from sync import state
        db = connect(cfg.station.db_path)
        state.ensure_tables(db)
        cursor = state.get_cursor(db, cfg.station.station_id)
        last = JournalReader(db).last_seq()
        out = {"station_id": cfg.station.station_id, "stored_through_seq": cursor, "last_seq": last,
               "backlog_events": max(0, last - cursor), **state.get_state(db)}
        out.pop("status", None)
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    from app.orders_sync import OrdersFetcher
    from core.db import connect
    from edge.journal import JournalReader
    stop = _stop_event()
    trigger = threading.Event()
    uplink = build_uplink(cfg, orders_trigger=trigger, config_path=args.config)
    if cfg.uplink.orders_fetch:
        OrdersFetcher(cfg, stop, trigger, uplink.orders_status, uplink.orders_days).start()
    if cfg.uplink.clip_upload:
        from sync import uploads
        cdb = connect(cfg.station.db_path)
        uploads.start(cfg, stop, cdb, JournalReader(cdb))
    log.kv(logger, logging.INFO, "uplink starting", station_id=cfg.station.station_id,
           broker=f"{cfg.uplink.broker.host}:{cfg.uplink.broker.port}", cursor=uplink.cursor)
    from core.sdnotify import Watchdog, notify
    wd = Watchdog()
    wd.register("uplink", 60.0)
    wd.start()
    notify("READY=1")
    uplink.run(stop, beat=lambda: wd.beat("uplink"))
    wd.stopping()
    return 0


def _central(args: argparse.Namespace) -> int:
    from core.process import die_with_parent, supervisor_pid
    parent = supervisor_pid() if args.worker is not None else None
    if parent is not None:
        die_with_parent(parent)  # before anything slow: no orphan even while starting
    from central.config import load_central_config
    try:
        cfg = load_central_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    if args.action == "indicators":
        return platform_cli.indicators(cfg, args, _stop_event)
    stop = _stop_event()
    if args.worker is not None:
        from central.worker import run_worker
        log.kv(logger, logging.INFO, "ingest worker starting", index=args.worker)
        run_worker(cfg, args.worker, stop, supervised=parent is not None)
        return 0
    _run_central(args.config, cfg, stop)
    return 0


def _run_central(path: Path, cfg: CentralConfig, stop: threading.Event) -> None:
    """HTTP API in a thread, the worker supervisor in this one; READY=1 and watchdog for systemd."""
    from central import audit, health
    from central.ingest import KeyRegistry
    from central.supervisor import Supervisor
    from core.sdnotify import Watchdog, notify

    sup = Supervisor([sys.executable, "-m", "app.cli", "central", "--config", str(path), "--worker"],
                     cfg.ingest)
    health.install(sup.health, health.StoreProbe(cfg.store.dsn))
    audit.install(audit.Auditor(health.StoreProbe(cfg.store.dsn).use,
                                KeyRegistry(cfg.registry.keys_dir)))
    sup.start()  # first: the workers start up while the HTTP API's imports (FastAPI) load here
    server = None
    if cfg.http.enabled:
        try:
            from central.api import serve_in_thread
            server = serve_in_thread(cfg)
        except BaseException:
            sup.stop()
            raise
        log.kv(logger, logging.INFO, "central HTTP API listening", bind=cfg.http.bind)
    wd = Watchdog()
    wd.register("supervisor", 30.0)
    wd.start()
    notify("READY=1")
    while not stop.wait(0.5):
        sup.poll()
        wd.beat("supervisor")
    wd.stopping()
    sup.stop()
    if server is not None:
        server.shutdown()


def _central_verify(args: argparse.Namespace) -> int:
    from central.audit import audit
    from central.config import load_central_config
    from central.ingest import KeyRegistry
    from central.store import Store
    try:
        cfg = load_central_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    key = KeyRegistry(cfg.registry.keys_dir)(args.station)
    store = Store(cfg.store.dsn)
    try:
        report, _ = audit(store, args.station, key)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(f"station  {report.station_id}\nevents   {report.count}\n"
              f"head     seq {report.head_seq}  hash {report.head_hash}\n"
              f"chain    {'verifies' if report.verified else 'DOES NOT VERIFY: ' + str(report.problem)}")
    return 0 if report.verified else 1


def _central_command(args: argparse.Namespace) -> int:
    """Publish one ``acceptance.command/1`` (QoS 1) and wait for the broker's PUBACK."""
    import uuid

    from central.config import load_central_config
    from contract import protocol, schemas
    from contract.mqtt import publish_once
    try:
        cfg = load_central_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    cmd: dict[str, Any] = {"schema": protocol.COMMAND_SCHEMA, "command_id": str(uuid.uuid4()),
                           "command": args.command}
    if args.seq is not None:
        cmd["seq"] = args.seq
    if args.date is not None:
        cmd["delivery_date"] = args.date
    problems = schemas.errors("command.v1", cmd)
    if problems:
        raise UsageError("; ".join(problems))
    problem = publish_once(cfg.broker, f"{cfg.ingest.client_id_prefix}-cmd-{uuid.uuid4().hex[:8]}",
                           protocol.topic(args.station, "commands"), protocol.dumps(cmd))
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    print(json.dumps(cmd))
    return 0


def build_uplink(cfg: StationConfig, *, orders_trigger: threading.Event | None = None,
                 config_path: Path | None = None) -> Uplink:
    """The uplink of a station config, reading the journal and device states through their owners.

    With ``config_path`` it also answers central's ``diagnose`` command (``app.diagnose``).
    """
    from app.diagnose import Diagnoser
    from app.fleet_status import StatusExtras
    from core.db import connect
    from edge import device_status
    from edge.journal import JournalReader
    from sync.uplink import Uplink

    db = connect(cfg.station.db_path)
    return Uplink(cfg, JournalReader(db), devices=lambda: device_status.states(db),
                  orders_trigger=orders_trigger, status_extra=StatusExtras(db, cfg.update),
                  on_diagnose=None if config_path is None else Diagnoser(cfg, config_path))
