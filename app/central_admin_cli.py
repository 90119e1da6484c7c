"""CLI: ``central-token`` (stations' API tokens), ``central-account`` (web app accounts) and
``broker-acl`` (the broker's access data)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.config import ConfigError
from core.errors import UsageError


def register(sub: Any) -> None:
    t = sub.add_parser("central-token", help="issue, list or revoke a station's token for central's HTTP API")
    t.add_argument("action", choices=("issue", "list", "revoke"))
    t.add_argument("--config", type=Path, required=True, help="central config file (its [http] tokens_file)")
    t.add_argument("--station", help="station id (required by issue and revoke; filters list)")
    t.add_argument("--id", dest="token_id", help="revoke only this token (its id, from list)")
    t.add_argument("--technician", action="store_true",
                   help="a technician's token for the fleet API ([fleet] technician_tokens_file); "
                        "--station then names the technician")
    t.set_defaults(handler=_token)
    a = sub.add_parser("central-account", help="add, list, disable or enable central's web app accounts, "
                                               "or set a password")
    a.add_argument("action", choices=("add", "list", "disable", "enable", "password"))
    a.add_argument("--config", type=Path, required=True, help="central config file (its [store] dsn)")
    a.add_argument("--username", help="the account name (a-z 0-9 . _ -)")
    a.add_argument("--role", help="add: school_leader, discipline_committee, city_bureau or technician")
    a.add_argument("--school", help="add: the school id (school_leader and discipline_committee only)")
    a.add_argument("--name", help="add: the name shown on pages (default: the username)")
    a.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin instead of prompting twice")
    a.set_defaults(handler=_account)
    b = sub.add_parser("broker-acl", help="print the broker's dynamic-security data for the stations")
    b.add_argument("--station", action="append", default=[], help="a station id (repeatable)")
    b.add_argument("--keys-dir", type=Path, help="also every station registered there (<station_id>.pub)")
    b.add_argument("--central", action="append", help="central's MQTT users (default: central-ingest)")
    b.add_argument("--admin", action="append", help="admin users (default: central-admin)")
    b.add_argument("--school", action="append", default=[], metavar="USER=SCHOOL",
                   help="a school's warnings subscriber: MQTT user (certificate CN) = school id")
    b.add_argument("--control", action="store_true",
                   help="print the $CONTROL/dynamic-security/v1 command adding the stations to a running "
                        "broker, instead of the whole file")
    b.add_argument("--remove", action="append", default=[], help="with --control: remove this station")
    b.set_defaults(handler=_broker_acl)


def _token(args: argparse.Namespace) -> int:
    from central import tokens
    from central.config import load_central_config
    try:
        cfg = load_central_config(args.config)
        path = cfg.fleet.technician_tokens_file if args.technician else cfg.http.tokens_file
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    try:
        if args.action == "list":
            for e in tokens.read(path):
                if args.station in (None, e.station):
                    print(f"{e.token_id}  {e.station}  issued {e.issued_at}")
            return 0
        if not args.station:
            raise UsageError(f"{args.action} needs --station")
        if args.action == "issue":
            token, entry = tokens.issue(path, args.station)
            keep = "a safe place" if args.technician else "the station's [orders] token_file"
            print(f"token {entry.token_id} issued for {entry.station}; it is shown once, keep it in "
                  f"{keep}", file=sys.stderr)
            print(token)
            return 0
        gone = tokens.revoke(path, args.station, args.token_id)
        print(f"revoked {', '.join(e.token_id for e in gone)} of {args.station}", file=sys.stderr)
        return 0
    except tokens.TokenError as exc:
        raise UsageError(str(exc)) from exc


def _broker_acl(args: argparse.Namespace) -> int:
    from central.ingest import KeyRegistry
    from contract import broker_acl
    from contract.ids import is_valid_id

    stations = list(args.station) + (KeyRegistry(args.keys_dir).stations() if args.keys_dir else [])
    schools = [tuple(x.split("=", 1)) for x in args.school]
    bad = [s for s in [*stations, *args.remove] if not is_valid_id(s)]
    bad += [x for x, pair in zip(args.school, schools, strict=True)
            if len(pair) != 2 or not all(is_valid_id(v) for v in pair)]
    if bad:
        raise UsageError(f"not station ids (or USER=SCHOOL pairs): {', '.join(bad)}")
    if args.control:
        doc = broker_acl.control_commands(add=stations, remove=args.remove)
    else:
        doc = broker_acl.dynsec_config(stations, args.central or ["central-ingest"],
                                       args.admin or ["central-admin"],
                                       [(u, sch) for u, sch in schools])
    print(json.dumps(doc, indent=1))
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the passwords differ")
    return first


def _account(args: argparse.Namespace) -> int:
    from central.config import load_central_config
    from central.store import Store
    from central.web import accounts
    try:
        dsn = load_central_config(args.config).store.dsn
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    if args.action != "list" and not args.username:
        raise UsageError(f"{args.action} needs --username")
    store = Store(dsn)
    try:
        if args.action == "list":
            for acc, disabled in accounts.accounts(store):
                print(f"{acc.username}  {acc.role}  {acc.school_id or '*'}  {acc.display_name}"
                      f"{'  (disabled)' if disabled else ''}")
        elif args.action == "add":
            acc = accounts.add_account(store, args.username, args.name or args.username, args.role or "",
                                       args.school, _password(args))
            print(f"account {acc.username} ({acc.role}, {acc.school_id or 'city-wide'}) added",
                  file=sys.stderr)
        elif args.action == "password":
            accounts.set_password(store, args.username, _password(args))
            print(f"password of {args.username} set; its sessions ended", file=sys.stderr)
        else:
            accounts.set_disabled(store, args.username, args.action == "disable")
            print(f"account {args.username} {args.action}d", file=sys.stderr)
    except accounts.AccountError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        store.close()
    return 0
