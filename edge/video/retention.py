"""Clip retention: a pure policy (``plan``) and the periodic job that applies it (``run``).

Rules, in order of precedence:
- never delete a clip central has not stored (it is the only copy);
- never delete a clip of today (the hall plays them) nor one inside ``keep_days``;
- the only copy is never deleted before the legal retention (docs/contract.md §3) allows —
  implied by the first rule, and checked on its own so a policy change cannot lose it;
- otherwise delete oldest first while the clips exceed the disk budget or the
  free space is below the minimum;
- if, after every allowed deletion, free space is still below the minimum,
  recording stops (a visible device state) instead of failing writes.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from core import log
from edge.video.config import VideoSection

logger = logging.getLogger("edge.video")
MB = 1_000_000


@dataclass(frozen=True)
class ClipFile:
    clip_id: str
    day: date
    bytes: int
    stored_central: bool


@dataclass(frozen=True)
class Disk:
    free: int  # bytes free on the clips' file system


@dataclass(frozen=True)
class Rules:
    budget: int  # bytes all clips may take
    min_free: int  # bytes that must stay free
    retention_days: int  # legal retention of an only copy
    keep_days: int = 0  # also keep this many days before today (0: today only)


@dataclass(frozen=True)
class Plan:
    delete: tuple[str, ...]
    stop_recording: bool
    why_stopped: str | None = None


def deletable(c: ClipFile, rules: Rules, today: date) -> bool:
    if not c.stored_central and c.day > today - timedelta(days=rules.retention_days):
        return False  # the only copy, inside the legal retention
    if not c.stored_central:
        return False  # central has not stored it: still the only copy, kept until it has
    # today's clips (and keep_days before) stay for the hall
    return c.day < today - timedelta(days=rules.keep_days)


def plan(clips: list[ClipFile], disk: Disk, rules: Rules, today: date) -> Plan:
    """What to delete (oldest first) and whether recording must stop. Pure."""
    used = sum(c.bytes for c in clips)
    free = disk.free
    gone: list[str] = []
    for c in sorted(clips, key=lambda c: (c.day, c.clip_id)):
        if used <= rules.budget and free >= rules.min_free:
            break
        if not deletable(c, rules, today):
            continue
        gone.append(c.clip_id)
        used -= c.bytes
        free += c.bytes
    if free < rules.min_free:
        return Plan(tuple(gone), True, f"disk nearly full: {free // MB} MB free")
    if used > rules.budget:
        return Plan(tuple(gone), True, f"clip budget used: {used // MB} MB")
    return Plan(tuple(gone), False)


def scan(clips_dir: Path, stored: set[str]) -> dict[str, tuple[Path, ClipFile]]:
    """The clip files on disk (``<day>/<clip_id>.mp4``)."""
    out = {}
    for p in clips_dir.glob("*/*.mp4"):
        try:
            day = date.fromisoformat(p.parent.name)
        except ValueError:
            continue
        out[p.stem] = (p, ClipFile(p.stem, day, p.stat().st_size, p.stem in stored))
    return out


def run(stored: set[str], clips_dir: Path, cfg: VideoSection, *, today: str) -> Plan:
    """One pass of the retention job: plan, delete, report.

    ``stored`` are the clip ids central holds (the uplink's record, passed in by the
    application): only those may be deleted before their time.
    """
    files = scan(clips_dir, stored)
    rules = Rules(cfg.budget_mb * MB, cfg.min_free_mb * MB, cfg.retention_days)
    p = plan([f for _, f in files.values()], Disk(shutil.disk_usage(clips_dir).free), rules,
             date.fromisoformat(today))
    for clip_id in p.delete:
        files[clip_id][0].unlink(missing_ok=True)
        log.kv(logger, logging.INFO, "clip deleted by retention", clip_id=clip_id)
    if p.stop_recording:
        log.kv(logger, logging.WARNING, "recording stopped", why=p.why_stopped)
    return p
