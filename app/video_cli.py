"""``acceptance-station video list|verify|retention``: the clips on this station."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from core.errors import UsageError
from sync import state as sync_state


def register(sub: Any) -> None:
    p = sub.add_parser("video", help="acceptance clips: list, verify hashes, run retention")
    vsub = p.add_subparsers(dest="video_cmd", required=True)
    ls = vsub.add_parser("list", help="one JSON line per finalized clip (with upload state)")
    ls.add_argument("--config", type=Path, required=True)
    ls.add_argument("--since", default="", help="only decisions at or after this RFC 3339 time")
    ls.set_defaults(handler=_list)
    v = vsub.add_parser("verify", help="recompute every clip file's sha256 against the journal")
    v.add_argument("--config", type=Path, required=True)
    v.set_defaults(handler=_verify)
    r = vsub.add_parser("retention", help="run one retention pass (or plan it with --dry-run)")
    r.add_argument("--config", type=Path, required=True)
    r.add_argument("--dry-run", action="store_true", help="print the plan, delete nothing")
    r.set_defaults(handler=_retention)


def _open(path: Path) -> tuple[Any, Any]:
    from app.config import load_config
    from core.config import ConfigError
    from core.db import connect

    try:
        cfg = load_config(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    if not cfg.station.db_path.exists():
        raise UsageError(f"no station database at {cfg.station.db_path}")
    return cfg, connect(cfg.station.db_path)


def _list(args: argparse.Namespace) -> int:
    from edge.video import clips

    cfg, db = _open(args.config)
    stored = sync_state.stored_clip_ids(db)
    for c in clips.finalized(db, since_at=args.since):
        print(json.dumps({"clip_id": c.clip_id, "file": c.file, "sha256": c.sha256, "bytes": c.bytes,
                          "duration_ms": c.duration_ms, "at": c.at, "event_id": c.event["event_id"],
                          "type": c.event["type"], "stored_central": c.clip_id in stored,
                          "present": (cfg.station.data_dir / "clips" / c.file).exists()},
                         ensure_ascii=False))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from edge.video import clips
    from edge.video.encoder import sha256_file

    cfg, db = _open(args.config)
    bad = 0
    for c in clips.finalized(db):
        path = cfg.station.data_dir / "clips" / c.file
        if not path.exists():
            print(json.dumps({"clip_id": c.clip_id, "result": "absent"}))
            continue
        ok = sha256_file(path) == (c.sha256, c.bytes)
        bad += not ok
        print(json.dumps({"clip_id": c.clip_id, "result": "ok" if ok else "MISMATCH"}))
    return 1 if bad else 0


def _retention(args: argparse.Namespace) -> int:
    import shutil
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from edge.video import retention

    cfg, db = _open(args.config)
    clips_dir = cfg.station.data_dir / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    today = datetime.now(UTC).astimezone(ZoneInfo(cfg.station.timezone)).date().isoformat()
    v = cfg.video
    if args.dry_run:
        files = retention.scan(clips_dir, sync_state.stored_clip_ids(db))
        rules = retention.Rules(v.budget_mb * retention.MB, v.min_free_mb * retention.MB,
                                v.retention_days)
        plan = retention.plan([f for _, f in files.values()],
                              retention.Disk(shutil.disk_usage(clips_dir).free), rules,
                              date.fromisoformat(today))
    else:
        plan = retention.run(sync_state.stored_clip_ids(db), clips_dir, v, today=today)
    print(json.dumps({"delete": list(plan.delete), "stop_recording": plan.stop_recording,
                      "why": plan.why_stopped, "dry_run": args.dry_run}))
    return 0
