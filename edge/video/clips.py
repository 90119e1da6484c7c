"""The journal side of clips: ``clip.finalized`` / ``clip.missing`` records and the clip list.

Only the station process appends (it owns the journal); the hall and the
retention job read the clip list from the journal, which names every clip's
file, hash and the decision it films.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import log
from edge.journal import Journal
from edge.matching.reasons import REASONS
from edge.video.recorder import ClipOutcome, remove_leftovers

logger = logging.getLogger("edge.video")

LINE_TYPES = ("line.accepted", "line.rejected")


def result_text(event_type: str, reasons: list[str]) -> str:
    """The decision in Chinese, as the caption and the hall show it."""
    labels = "、".join(REASONS.get(r, ("", r, ""))[1] for r in reasons)
    if event_type == "line.accepted":
        return "验收合格" + (f"（{labels}）" if labels else "")
    return "拒收：" + (labels or "未通过")


def record_outcome(journal: Journal, out: ClipOutcome, clips_dir: Path) -> dict[str, Any] | None:
    """Append ``clip.finalized`` for a durable file, else ``clip.missing`` + ``alert.raised``."""
    ev = out.event
    if ev is None:
        return None  # an abandoned placement: nothing was decided, nothing to record
    films = {"event_id": ev["event_id"], "event_seq": ev["seq"]}
    w = out.written
    if w is not None:
        return journal.append("clip.finalized", {
            "clip_id": out.clip_id, **films, "sha256": w.sha256, "bytes": w.bytes,
            "duration_ms": w.duration_ms, "frames": w.frames, "codec": w.codec,
            "encoder": w.encoder, "container": w.container, "file": str(w.path.relative_to(clips_dir)),
        })
    return record_missing(journal, out.clip_id, films, out.reason or "unknown")


def record_missing(journal: Journal, clip_id: str, films: dict[str, Any], reason: str) -> dict[str, Any]:
    with journal.transaction() as tx:
        missing = tx.append("clip.missing", {"clip_id": clip_id, **films, "reason": reason})
        tx.append("alert.raised", {
            "code": "CLIP_MISSING", "severity": "warning",
            "message": f"acceptance without video: {reason}"[:2000],
            "refs": [films["event_id"], missing["event_id"]],
        })
    log.kv(logger, logging.WARNING, "clip missing", clip_id=clip_id, reason=reason)
    return missing


def recover(journal: Journal, clips_dir: Path) -> int:
    """At start: delete half-written files; a decided line whose clip never finished gets
    ``clip.missing`` (the station stopped while recording). Returns how many were marked."""
    for p in remove_leftovers(clips_dir):
        log.kv(logger, logging.INFO, "removed leftover clip file", path=str(p))
    rows = journal.db.execute(
        "SELECT seq, event_id, json_extract(event, '$.body.clip_id') FROM events"
        " WHERE type IN ('line.accepted', 'line.rejected')"
        " AND json_extract(event, '$.body.clip_id') IS NOT NULL"
        " AND json_extract(event, '$.body.clip_id') NOT IN (SELECT"
        " json_extract(event, '$.body.clip_id') FROM events"
        " WHERE type IN ('clip.finalized', 'clip.missing'))").fetchall()
    for seq, event_id, clip_id in rows:
        record_missing(journal, clip_id, {"event_id": event_id, "event_seq": seq},
                       "interrupted: the station stopped while recording")
    return len(rows)


@dataclass(frozen=True)
class ClipEntry:
    """One finalized clip with the decision it films (for the hall and retention)."""

    clip_id: str
    file: str
    sha256: str
    bytes: int
    duration_ms: int
    at: str  # when the decision was recorded (RFC 3339, UTC)
    event: dict[str, Any]


def finalized(db: sqlite3.Connection, *, since_at: str = "") -> list[ClipEntry]:
    """Finalized clips whose decision was at or after ``since_at``, oldest first."""
    rows = db.execute(
        "SELECT c.event, e.event FROM events c JOIN events e"
        " ON e.seq = json_extract(c.event, '$.body.event_seq')"
        " WHERE c.type = 'clip.finalized' AND e.at >= ? ORDER BY e.seq", (since_at,)).fetchall()
    out = []
    for ctext, etext in rows:
        c, e = json.loads(ctext), json.loads(etext)
        b = c["body"]
        out.append(ClipEntry(b["clip_id"], b["file"], b["sha256"], int(b["bytes"]),
                             int(b["duration_ms"]), e["at"], e))
    return out
