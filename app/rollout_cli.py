"""CLI: ``central-admin`` — publish releases, set groups, run the staged rollout, make enrolment codes.

Run on the central host with central's config (docs/cli.md, docs/deployment.md). Publishing
verifies the whole bundle and its signature with ``[releases] public_key`` before
anything is stored: central never serves a bundle its release key did not sign.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.config import ConfigError
from core.errors import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser("central-admin", help="central: publish releases, staged rollout, enrolment codes")
    asub = p.add_subparsers(dest="admin_cmd", required=True)
    r = asub.add_parser("release", help="publish or list signed release bundles")
    rsub = r.add_subparsers(dest="release_cmd", required=True)
    pub = rsub.add_parser("publish", help="verify BUNDLE (and BUNDLE.sig) and publish it")
    pub.add_argument("bundle", type=Path)
    pub.set_defaults(handler=_publish)
    rsub.add_parser("list", help="published releases").set_defaults(handler=_list)
    g = asub.add_parser("group", help="put stations into a rollout group (canary) or back to the rest")
    g.add_argument("group", choices=("canary", "rest"))
    g.add_argument("stations", nargs="+", metavar="STATION")
    g.set_defaults(handler=_group)
    ro = asub.add_parser("rollout", help="start, inspect, halt or resume the staged rollout")
    rosub = ro.add_subparsers(dest="rollout_cmd", required=True)
    st = rosub.add_parser("start", help="offer VERSION to the canaries, then to every station")
    st.add_argument("version")
    st.add_argument("--max-failure-rate", type=float,
                    help="halt when more than this share of canaries fail (default: [releases])")
    st.set_defaults(handler=_start)
    s = rosub.add_parser("status", help="the rollout, and every station's version and last update")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=_status)
    for name, text in (("halt", "offer the version to no station more"),
                       ("resume", "offer it to every station (accepting what halted it)")):
        x = rosub.add_parser(name, help=text)
        x.add_argument("--reason", default=f"{name} by an admin")
        x.set_defaults(handler=_set_state, state="halted" if name == "halt" else "active")
    e = asub.add_parser("enrol-code", help="a one-time code that enrols a new kiosk as STATION")
    e.add_argument("--station", required=True)
    e.add_argument("--school", required=True)
    e.add_argument("--ttl-s", type=float, help="lifetime in seconds (default: [enrol] code_ttl_s)")
    e.set_defaults(handler=_enrol_code)
    for leaf in (pub, g, st, s, e, *(rosub.choices[n] for n in ("halt", "resume")), rsub.choices["list"]):
        leaf.add_argument("--config", type=Path, required=True, help="central config file")


def _cfg(args: argparse.Namespace) -> Any:
    from central.config import load_central_config
    try:
        return load_central_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


def _with_store(args: argparse.Namespace, fn: Any) -> Any:
    from central.rollout import db
    from central.rollout.enrol import EnrolError
    store = db.open_store(_cfg(args).store.dsn)
    try:
        return fn(store)
    except (db.RolloutError, EnrolError) as exc:
        raise UsageError(str(exc)) from exc
    finally:
        store.close()


def _publish(args: argparse.Namespace) -> int:
    from app import release
    from central.rollout import db, files
    from core.clock import now_rfc3339
    cfg = _cfg(args)
    if cfg.releases.public_key is None:
        raise UsageError("no release public key at central: set [releases] public_key")
    try:
        manifest = release.verify(args.bundle, release.public_key_from_hex(cfg.releases.public_key))
        sha = release.sha256_file(args.bundle)
        signature = release.read_signature(args.bundle).strip()
        size = files.store_bundle(cfg.releases.dir, args.bundle, sha, cfg.releases.max_bundle_bytes)
    except (release.ReleaseError, ValueError, OSError) as exc:
        print(f"REFUSED {args.bundle}: {exc}", file=sys.stderr)
        return 1
    _with_store(args, lambda s: db.add_release(s, db.Release(manifest.version, sha, size, signature,
                                                             now_rfc3339())))
    print(f"published {manifest.version}: sha256 {sha}, {size} bytes")
    return 0


def _list(args: argparse.Namespace) -> int:
    from central.rollout import db
    for r in _with_store(args, db.releases):
        print(f"{r.version}  {r.sha256}  {r.size} bytes  published {r.published_at}")
    return 0


def _group(args: argparse.Namespace) -> int:
    from central.rollout import db
    from contract.ids import is_valid_id
    bad = [s for s in args.stations if not is_valid_id(s)]
    if bad:
        raise UsageError(f"not station ids: {', '.join(bad)}")
    _with_store(args, lambda s: db.set_group(s, args.stations, None if args.group == "rest" else args.group))
    print(f"{len(args.stations)} station(s) now in group {args.group}")
    return 0


def _show(r: Any) -> str:
    return (f"rollout {r.rollout_id}: {r.version} stage {r.stage}, {r.state}, "
            f"max failure rate {r.max_failure_rate:g}" + (f" ({r.reason})" if r.reason else ""))


def _start(args: argparse.Namespace) -> int:
    from central.rollout import db
    rate = args.max_failure_rate
    if rate is None:
        rate = _cfg(args).releases.max_failure_rate
    print(_show(_with_store(args, lambda s: db.start(s, args.version, rate))))
    return 0


def _set_state(args: argparse.Namespace) -> int:
    from central.rollout import db
    print(_show(_with_store(args, lambda s: db.set_state(s, args.state, args.reason))))
    return 0


def _status(args: argparse.Namespace) -> int:
    from central.rollout import db

    def read(s: Any) -> tuple[Any, Any]:
        return db.current(s), db.stations_table(s)

    r, rows = _with_store(args, read)
    if args.json:
        print(json.dumps({"rollout": None if r is None else r.__dict__, "stations": [
            dict(zip(("station_id", "group", "version", "target", "result", "reported_at"), row, strict=True))
            for row in rows]}, indent=1))
        return 0
    print(_show(r) if r else "no rollout started")
    for station, group, version, target, result, at in rows:
        print(f"  {station:<24} {group or 'rest':<7} running {version or '-':<10} "
              f"last update {target or '-'} {result or ''} ({at[:19]})")
    return 0


def _enrol_code(args: argparse.Namespace) -> int:
    from central.rollout import enrol
    cfg = _cfg(args)
    ttl = args.ttl_s if args.ttl_s is not None else cfg.enrol.code_ttl_s
    if ttl <= 0:
        raise UsageError("--ttl-s must be positive")
    code = _with_store(args, lambda s: enrol.new_code(s, args.station, args.school, ttl))
    print(f"enrolment code for {args.station}, valid {ttl:g} s, once; it is shown only now", file=sys.stderr)
    print(code)
    return 0
