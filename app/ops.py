"""The technician's commands: ``doctor`` (what is wrong) and ``status`` (live state)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from app.config import ConfigError, StationConfig, load_config
from core.errors import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check this station and say what to do about each problem")
    p.add_argument("--config", type=Path, default=Path("/etc/acceptance-station/station.toml"))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_doctor)
    p = sub.add_parser("status", help="the station's live state, refreshed until interrupted")
    p.add_argument("--config", type=Path, default=Path("/etc/acceptance-station/station.toml"))
    p.add_argument("--once", action="store_true", help="print once and exit")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    p.set_defaults(handler=_status)


def _doctor(args: argparse.Namespace) -> int:
    from app.doctor import render, run_doctor

    findings = run_doctor(args.config)
    print(render(findings, args.json))
    return 0 if all(f.ok for f in findings) else 1


def status_text(cfg: StationConfig) -> str:
    """One screen: devices, open delivery, backlog, last sync."""
    from core import db as dbmod
    from edge import device_status
    from edge.journal import JournalReader, read_events
    from edge.workflow.driver import WORKFLOW_TYPES
    from edge.workflow.machine import replay
    from sync import state

    path = cfg.station.db_path
    if not path.exists():
        return f"{cfg.station.station_id}: no database at {path} (station never started)"
    db = dbmod.connect(path)
    lines = [f"station {cfg.station.station_id}   {time.strftime('%Y-%m-%d %H:%M:%S')}"]
    rows = device_status.read_all(db)
    lines.append("devices:" if rows else "devices: (station not running)")
    for r in rows:
        lines.append(f"  {r.device:<24} {'ok  ' if r.ok else 'FAIL'} {r.state}   ({r.updated_at[11:19]})")
    wf = replay(read_events(db, types=WORKFLOW_TYPES))
    d = wf.delivery
    if d is None:
        lines.append("delivery: none open")
    else:
        done = sum(1 for p in d.progress.values() if p.accepted)
        lines.append(f"delivery: {d.order_id} ({d.supplier_id}), {done} lines accepted, "
                     f"inspectors {', '.join(wf.inspectors) or '-'}")
    state.ensure_tables(db)
    last, cursor = JournalReader(db).last_seq(), state.get_cursor(db, cfg.station.station_id)
    up = state.get_state(db).get("uplink") or {}
    lines.append(f"backlog: {last - cursor} events (central holds through seq {cursor} of {last}), "
                 f"{state.clip_backlog(db)} clips")
    lines.append(f"uplink: {up.get('state', 'never ran')} {up.get('error') or ''} "
                 f"(since {up.get('at', '-')})")
    db.close()
    lines.append(update_line(cfg))
    return "\n".join(lines)


def update_line(cfg: StationConfig) -> str:
    """The installed release and the last update step (docs/deployment.md, "Updates")."""
    from app.updater import Layout, StateLog

    layout = Layout(cfg.update.root)
    steps = StateLog(layout.state_file).load().doc.get("steps") or [{}]
    last = steps[-1]
    return (f"update: release {layout.current_version() or '(not from a release)'}, last step "
            f"{last.get('step', 'none')} {last.get('version', '')} ({last.get('at', '-')[:19]})")


def _status(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    while True:
        text = status_text(cfg)
        if args.once:
            print(text)
            return 0
        sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")
        sys.stdout.flush()
        try:
            time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0
