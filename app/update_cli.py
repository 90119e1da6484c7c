"""``release build|sign|verify`` and ``update apply|status`` (docs/cli.md, docs/deployment.md)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from app import release
from app.cli import UsageError
from app.config import StationConfig
from app.update_health import delivery_open, delivery_open_in_journal

__all__ = ["delivery_open", "delivery_open_in_journal", "register"]


def register(sub: Any) -> None:
    p = sub.add_parser("release", help="build, sign and verify signed release bundles")
    rsub = p.add_subparsers(dest="release_cmd", required=True)
    b = rsub.add_parser("build", help="bundle the program wheel, the lock and a wheelhouse")
    b.add_argument("--version", required=True, help="release version, e.g. 1.4.2")
    b.add_argument("--out", type=Path, required=True, help="directory for the bundle")
    b.add_argument("--wheel", type=Path, help="the program wheel (default: built from --source)")
    b.add_argument("--source", type=Path, default=Path.cwd(), help="source tree (default: cwd)")
    b.add_argument("--lock", type=Path, help="lock file (default: SOURCE/requirements/station.lock)")
    b.add_argument("--wheelhouse", type=Path, help="directory of locked wheels for the target")
    b.set_defaults(handler=_build)
    s = rsub.add_parser("sign", help="write BUNDLE.sig with the release key")
    s.add_argument("bundle", type=Path)
    s.add_argument("--key", type=Path, required=True, help="the release private key (keys init)")
    s.set_defaults(handler=_sign)
    v = rsub.add_parser("verify", help="check the signature and every file of a bundle")
    v.add_argument("bundle", type=Path)
    v.add_argument("--public-key", help="hex release public key (default: [update] of --config)")
    v.add_argument("--config", type=Path)
    v.set_defaults(handler=_verify)

    p = sub.add_parser("update", help="install a signed release with automatic rollback")
    usub = p.add_subparsers(dest="update_cmd", required=True)
    a = usub.add_parser("apply", help="verify, install beside, switch, restart, check, roll back")
    a.add_argument("bundle", type=Path)
    a.add_argument("--config", type=Path, required=True)
    a.add_argument("--force", action="store_true",
                   help="skip the maintenance window and open-delivery checks (on site only)")
    a.set_defaults(handler=_apply)
    po = usub.add_parser("poll", help="one pass of central's staged rollout: report, download, apply, "
                                      "report (JSON)")
    po.add_argument("--config", type=Path, required=True)
    po.set_defaults(handler=_poll)
    st = usub.add_parser("status", help="current release and the last update's steps (JSON)")
    st.add_argument("--config", type=Path, required=True)
    st.set_defaults(handler=_status)


def _build(args: argparse.Namespace) -> int:
    lock = args.lock or args.source / "requirements" / "station.lock"
    wheels = sorted(args.wheelhouse.glob("*.whl")) if args.wheelhouse else []
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or _build_wheel(args.source, Path(tmp))
        try:
            out = release.build(args.version, wheel, lock, args.out, wheels)
        except release.ReleaseError as exc:
            raise UsageError(str(exc)) from exc
    print(out)
    return 0


def _build_wheel(source: Path, tmp: Path) -> Path:
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "-w", str(tmp), str(source)], capture_output=True, text=True)
    found = sorted(tmp.glob("acceptance_station-*.whl"))
    if r.returncode != 0 or not found:
        raise UsageError(f"building the wheel from {source} failed: {r.stderr.strip()[-400:]}")
    return found[0]


def _sign(args: argparse.Namespace) -> int:
    from contract.keys import KeyError_, load_key
    try:
        key = load_key(args.key)
        out = release.sign(args.bundle, key)
    except (KeyError_, release.ReleaseError) as exc:
        raise UsageError(str(exc)) from exc
    print(out)
    return 0


def _public_key(hex_key: str | None, cfg: StationConfig | None) -> Any:
    text = hex_key or (cfg.update.release_public_key if cfg else None)
    if not text:
        raise UsageError("no release public key: give --public-key or set [update] release_public_key")
    try:
        return release.public_key_from_hex(text)
    except release.ReleaseError as exc:
        raise UsageError(str(exc)) from exc


def _verify(args: argparse.Namespace) -> int:
    from app.commands import _cfg
    key = _public_key(args.public_key, _cfg(args.config) if args.config else None)
    try:
        m = release.verify(args.bundle, key)
    except release.ReleaseError as exc:
        print(f"FAIL {args.bundle}: {exc}")
        return 1
    print(f"OK {args.bundle}: version {m.version}, {len(m.files)} files, signature and sha256 verify"
          + (" (wheelhouse: offline install)" if m.wheelhouse else " (no wheelhouse: locked wheels "
             "from the index, hash-checked)"))
    return 0


def _apply(args: argparse.Namespace) -> int:
    from app.commands import _cfg
    from app.update_agent import apply_bundle
    from app.updater import UpdateError, exclusive
    cfg = _cfg(args.config)
    try:
        with exclusive(cfg.update.root):
            out = apply_bundle(cfg, _public_key(None, cfg), args.bundle, force=args.force)
    except UpdateError as exc:
        out = {"result": "refused", "reason": str(exc)}
    if out["result"] == "refused":
        print(f"REFUSED: {out['reason']}")
        return 1
    print(json.dumps(out))
    return 0 if out["result"] == "applied" else 1


def _poll(args: argparse.Namespace) -> int:
    import requests

    from app.commands import _cfg
    from app.update_agent import poll
    from core.http import make_session
    cfg = _cfg(args.config)
    key = _public_key(None, cfg)
    o = cfg.orders
    from app.updater import UpdateError, exclusive
    try:
        with exclusive(cfg.update.root):
            out = poll(cfg, key, make_session(o.retries, o.token_file, o.ca_file))
    except (requests.RequestException, ValueError, OSError, UpdateError) as exc:
        print(json.dumps({"action": "error", "error": str(exc)}))
        return 1
    print(json.dumps(out))
    return 0 if out.get("result") in (None, "applied") else 1


def _status(args: argparse.Namespace) -> int:
    from app.commands import _cfg
    from app.updater import Layout, StateLog
    layout = Layout(_cfg(args.config).update.root)
    doc = StateLog(layout.state_file).load().doc
    print(json.dumps({"current": layout.current_version(), "state": doc.get("state"),
                      "steps": doc.get("steps", [])[-10:]}, indent=1))
    return 0
