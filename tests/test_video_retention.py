"""Retention policy, table-driven: budget, free space, unsynced clips, legal retention, today."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from edge.db import connect
from edge.video import retention
from edge.video.config import VideoSection
from edge.video.retention import ClipFile, Disk, Rules, plan

TODAY = date(2026, 11, 28)
MB = retention.MB
RULES = Rules(budget=100 * MB, min_free=50 * MB, retention_days=730)


def c(cid: str, day: str, mb: int, stored: bool = True) -> ClipFile:
    return ClipFile(cid, date.fromisoformat(day), mb * MB, stored)


CASES = [
    # (what, clips, free MB, expected deletions, recording stops)
    ("under budget, enough free: nothing", [c("a", "2026-11-01", 40), c("b", "2026-11-27", 40)],
     500, (), False),
    ("over budget: oldest stored first until under",
     [c("b", "2026-11-02", 40), c("a", "2026-11-01", 40), c("c", "2026-11-27", 40)], 500,
     ("a",), False),
    ("low free space deletes even under budget", [c("a", "2026-11-01", 30), c("b", "2026-11-02", 30)],
     40, ("a",), False),
    ("unsynced clip never deleted: skipped, the next stored one goes",
     [c("a", "2026-10-01", 60, stored=False), c("b", "2026-11-01", 60)], 500, ("b",), False),
    ("only copy past legal retention still kept until central stores it",
     [c("a", "2023-01-01", 120, stored=False)], 500, (), True),
    ("only copy inside legal retention kept", [c("a", "2026-06-01", 120, stored=False)], 500,
     (), True),
    ("today's clips stay for the hall even when stored",
     [c("a", "2026-11-28", 120)], 500, (), True),
    ("disk nearly full, nothing deletable: recording stops",
     [c("a", "2026-11-28", 10), c("b", "2026-11-01", 10, stored=False)], 20, (), True),
    ("disk nearly full, deletions free enough: recording goes on",
     [c("a", "2026-11-01", 40), c("b", "2026-11-02", 40)], 20, ("a",), False),
]


@pytest.mark.parametrize("what,clips,free_mb,deleted,stops", CASES, ids=[x[0] for x in CASES])
def test_plan(what: str, clips: list[ClipFile], free_mb: int, deleted: tuple[str, ...],
              stops: bool) -> None:
    p = plan(clips, Disk(free_mb * MB), RULES, TODAY)
    assert p.delete == deleted
    assert p.stop_recording is stops and (p.why_stopped is not None) is stops


def test_keep_days_extends_what_stays() -> None:
    clips = [c("a", "2026-11-27", 120)]
    assert plan(clips, Disk(500 * MB), RULES, TODAY).delete == ("a",)
    keep = Rules(RULES.budget, RULES.min_free, RULES.retention_days, keep_days=1)
    assert plan(clips, Disk(500 * MB), keep, TODAY).delete == ()


def test_job_deletes_files_central_stored(tmp_path: Path) -> None:
    db = connect(tmp_path / "station.db")
    db.execute("CREATE TABLE clip_uploads (clip_id TEXT PRIMARY KEY, stored_at TEXT)")
    clips = tmp_path / "clips"
    for day, cid in (("2026-11-01", "old-stored"), ("2026-11-02", "old-unsynced"),
                     ("2026-11-28", "today")):
        (clips / day).mkdir(parents=True)
        (clips / day / f"{cid}.mp4").write_bytes(b"x" * 2 * MB)
    db.execute("INSERT INTO clip_uploads VALUES ('old-stored', '2026-11-02T00:00:00Z'),"
                    " ('old-unsynced', NULL)")
    (clips / "2026-11-28" / "half.mp4.part").write_bytes(b"x")
    cfg = VideoSection(budget_mb=3, min_free_mb=0)
    p = retention.run(db, clips, cfg, today="2026-11-28")
    assert p.delete == ("old-stored",) and p.stop_recording  # 4 MB left of a 3 MB budget
    assert sorted(f.name for f in clips.glob("*/*.mp4")) == ["old-unsynced.mp4", "today.mp4"]
