"""``acceptance-station roster import|show|hash-pin``: the station's inspectors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.errors import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser("roster", help="the roster of inspectors: import, show, hash a PIN")
    rsub = p.add_subparsers(dest="roster_cmd", required=True)
    r = rsub.add_parser("import", help="validate a roster document and start using it")
    r.add_argument("file", type=Path)
    r.add_argument("--config", type=Path, required=True)
    r.set_defaults(handler=_import)
    r = rsub.add_parser("show", help="the roster in use (ids, names, roles; never PIN hashes)")
    r.add_argument("--config", type=Path, required=True)
    r.set_defaults(handler=_show)
    r = rsub.add_parser("hash-pin", help="read a PIN on stdin, print its scrypt hash for a roster")
    r.set_defaults(handler=_hash_pin)


def _import(args: argparse.Namespace) -> int:
    from app.commands import _cfg, _load_json, open_journal
    from edge.roster import store
    from edge.roster.model import RosterRefused, validate_roster

    cfg = _cfg(args.config)
    doc = _load_json(args.file, "roster")
    try:
        validate_roster(doc, station_id=cfg.station.station_id)
    except RosterRefused as exc:
        raise UsageError(f"{args.file}: {exc}; the roster in use is unchanged") from exc
    j = open_journal(cfg)
    seq = store.adopt(j, doc, etag=None, source=f"file:{args.file.name}")
    if seq is None:
        print("roster unchanged (this version is already in use)")
    else:
        print(f"roster loaded: {len(doc['inspectors'])} inspectors (roster.loaded seq {seq})")
    return 0


def _show(args: argparse.Namespace) -> int:
    from app.commands import _cfg, open_journal
    from edge.roster import store

    j = open_journal(_cfg(args.config))
    store.ensure_tables(j.db)
    roster = store.roster_in_use(j.db)
    if roster is None:
        print("no roster in use")
        return 1
    for i in roster.inspectors:
        how = "+".join(w for w, has in (("badge", i.badge_uid), ("PIN", i.pin_hash)) if has)
        print(f"{i.inspector_id}\t{i.name}\t{i.role}\t{how}")
    return 0


def _hash_pin(args: argparse.Namespace) -> int:
    from edge.roster.pin import hash_pin

    pin = sys.stdin.readline().strip()
    try:
        print(hash_pin(pin))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return 0
