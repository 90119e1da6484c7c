"""Core subcommands: config, keys, verify, orders, decide, ledger.

Handlers are thin: they parse arguments, call the pure or storage functions and
print. Bad input raises UsageError (exit 2) and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.cli import UsageError
from app.config import ConfigError, StationConfig, load_config, policy_from_config


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="check a station config file")
    csub = p.add_subparsers(dest="config_cmd", required=True)
    chk = csub.add_parser("check", help="validate a config file")
    chk.add_argument("path", type=Path)
    chk.set_defaults(handler=_config_check)

    p = sub.add_parser("keys", help="the station's Ed25519 signing key")
    ksub = p.add_subparsers(dest="keys_cmd", required=True)
    k = ksub.add_parser("init", help="create the key (mode 0600) and print the public key")
    k.add_argument("--key", type=Path, help="key path (default: station.key_path of --config)")
    k.add_argument("--config", type=Path)
    k.set_defaults(handler=_keys_init)
    k = ksub.add_parser("show", help="print the public key of an existing key")
    k.add_argument("--key", type=Path)
    k.add_argument("--config", type=Path)
    k.set_defaults(handler=_keys_show)

    v = sub.add_parser("verify", help="verify every event of a station journal")
    v.add_argument("--db", type=Path, required=True)
    v.add_argument("--public-key", help="hex public key (default: the one the journal recorded)")
    v.set_defaults(handler=_verify)

    p = sub.add_parser("orders", help="import, fetch and show orders")
    osub = p.add_subparsers(dest="orders_cmd", required=True)
    o = osub.add_parser("import", help="validate an orders document and start using it")
    o.add_argument("file", type=Path)
    o.add_argument("--config", type=Path, required=True)
    o.set_defaults(handler=_orders_import)
    o = osub.add_parser("fetch", help="fetch orders for a date from the central API (ETag)")
    o.add_argument("--config", type=Path, required=True)
    o.add_argument("--date", help="delivery date YYYY-MM-DD (default: today, local)")
    o.set_defaults(handler=_orders_fetch)

    d = sub.add_parser("decide", help="run the matching rules on one observation")
    d.add_argument("--orders", type=Path, required=True)
    d.add_argument("--observation", type=Path, required=True)
    d.add_argument("--today", help="receiving date YYYY-MM-DD (default: local date of 'at')")
    d.add_argument("--timezone", default="Asia/Shanghai")
    d.add_argument("--config", type=Path, help="take the policy ([matching]) from a station config")
    d.set_defaults(handler=_decide)

    g = sub.add_parser("ledger", help="the day's incoming-inspection ledger (进货查验记录台账)")
    g.add_argument("--db", type=Path, required=True)
    g.add_argument("--date", required=True, help="local date YYYY-MM-DD")
    g.add_argument("--format", choices=("csv", "json"), default="csv")
    g.add_argument("--timezone", default="Asia/Shanghai")
    g.add_argument("--output", type=Path, help="write to a file instead of stdout")
    g.set_defaults(handler=_ledger)



def _cfg(path: Path) -> StationConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


def _date_arg(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{what}: {text!r} is not a date YYYY-MM-DD") from exc


def _load_json(path: Path, what: str) -> Any:
    """Strict JSON (core.jsonsafe): NaN, huge numbers, deep nesting, lone surrogates refused."""
    from edge.orders.model import load_json

    try:
        return load_json(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise UsageError(f"{what} {path}: {exc}") from exc


def _config_check(args: argparse.Namespace) -> int:
    _cfg(args.path)
    print(f"{args.path}: ok")
    return 0


def _key_path(args: argparse.Namespace) -> Path:
    if args.key is not None:
        return Path(args.key)
    if args.config is not None:
        return _cfg(args.config).station.key_path
    raise UsageError("give --key PATH or --config FILE")


def _keys_init(args: argparse.Namespace) -> int:
    from contract.keys import KeyError_, init_key, public_hex
    path = _key_path(args)
    try:
        key = init_key(path)
    except KeyError_ as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(public_hex(key))
    return 0


def _keys_show(args: argparse.Namespace) -> int:
    from contract.keys import KeyError_, load_key, public_hex
    try:
        print(public_hex(load_key(_key_path(args))))
    except KeyError_ as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _verify(args: argparse.Namespace) -> int:
    from contract.chain import public_key_from_hex
    from core import db as dbmod
    from edge.journal import meta
    from edge.verify import verify_db
    if not args.db.exists():
        raise UsageError(f"{args.db}: no such database")
    db = dbmod.connect(args.db)
    pub_hex = args.public_key or meta(db, "public_key")
    if pub_hex is None:
        raise UsageError(f"{args.db}: no public key recorded; give --public-key")
    try:
        pub = public_key_from_hex(pub_hex)
    except ValueError as exc:
        raise UsageError(f"--public-key: {exc}") from exc
    res = verify_db(db, pub)
    source = "given" if args.public_key else "recorded in the journal"
    if res.first_problem is not None:
        print(f"FAIL {args.db}: {res.first_problem} ({res.count} events checked, "
              f"public key {source})")
        return 1
    print(f"OK {args.db}: {res.count} events, seq 1..{res.last_seq}, chain and signatures "
          f"verify (public key {source})")
    return 0


def open_journal(cfg: StationConfig) -> Any:
    from contract.keys import KeyError_, load_key
    from edge.journal import Journal, JournalError
    from edge.orders import store
    try:
        j = Journal(cfg.station.db_path, load_key(cfg.station.key_path), cfg.station.station_id)
    except (KeyError_, JournalError) as exc:
        raise UsageError(str(exc)) from exc
    store.ensure_tables(j.db)
    return j


def _orders_import(args: argparse.Namespace) -> int:
    from edge.orders import store
    from edge.orders.model import OrdersRefused, validate_orders
    cfg = _cfg(args.config)
    doc = _load_json(args.file, "orders")
    try:
        validate_orders(doc, station_id=cfg.station.station_id)
    except OrdersRefused as exc:
        raise UsageError(f"{args.file}: {exc}; the orders in use are unchanged") from exc
    j = open_journal(cfg)
    seq = store.adopt(j, doc, etag=None, source=f"file:{args.file.name}")
    if seq is None:
        print(f"orders for {doc['delivery_date']} unchanged (this version is already in use)")
    else:
        print(f"orders for {doc['delivery_date']} loaded: {len(doc['orders'])} orders "
              f"(orders.loaded seq {seq})")
    return 0


def _orders_fetch(args: argparse.Namespace) -> int:
    from core.clock import now_rfc3339, parse_rfc3339
    from core.http import make_session
    from edge.orders.fetch import refresh
    cfg = _cfg(args.config)
    tz = ZoneInfo(cfg.station.timezone)
    day = args.date or parse_rfc3339(now_rfc3339()).astimezone(tz).date().isoformat()
    _date_arg(day, "--date")
    j = open_journal(cfg)
    o = cfg.orders
    outcome = refresh(j, make_session(o.retries, o.token_file, o.ca_file), o.api_url, day,
                      o.timeout_s)
    print(f"orders for {day}: {outcome}")
    return 0 if outcome in ("loaded", "unchanged") else 1


def _decide(args: argparse.Namespace) -> int:
    from edge.matching.rules import decide
    from edge.matching.types import Policy
    from edge.orders.model import (
        ObservationInvalid,
        OrdersRefused,
        observation_from_json,
        orders_from_doc,
        validate_orders,
    )
    try:
        orders = orders_from_doc(validate_orders(_load_json(args.orders, "orders")))
        obs = observation_from_json(_load_json(args.observation, "observation"))
        tz = ZoneInfo(args.timezone)
    except (OrdersRefused, ObservationInvalid) as exc:
        raise UsageError(str(exc)) from exc
    except (KeyError, ValueError) as exc:
        raise UsageError(f"--timezone: unknown time zone {args.timezone!r}") from exc
    today = _date_arg(args.today, "--today") if args.today else None
    if today is None and obs.at is None:
        raise UsageError("observation has no 'at'; give --today YYYY-MM-DD")
    policy = policy_from_config(_cfg(args.config), today) if args.config else \
        Policy(tz=tz, today=today)
    decision = decide(orders.get(obs.order_id), obs, policy)
    print(json.dumps(decision.to_json(), ensure_ascii=False, indent=1))
    return 0


def _ledger(args: argparse.Namespace) -> int:
    from core import db as dbmod
    from edge import ledger
    day = _date_arg(args.date, "--date")
    if not args.db.exists():
        raise UsageError(f"{args.db}: no such database")
    try:
        tz = ZoneInfo(args.timezone)
    except (KeyError, ValueError) as exc:
        raise UsageError(f"--timezone: unknown time zone {args.timezone!r}") from exc
    items = list(ledger.rows(dbmod.connect(args.db), day, tz))
    text = ledger.to_csv(items) if args.format == "csv" else ledger.to_json(items, day) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8", newline="")
    else:
        sys.stdout.write(text)
    return 0
