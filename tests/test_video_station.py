"""The recorder inside the station: clip ids in line events, clip.finalized, and a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from edge.journal import read_events
from edge.video.caption import band_height, burn, line_height
from edge.video.clips import result_text
from edge.video.encoder import sha256_file
from tests.cli_inproc import run_cli
from tests.video_helpers import decide_line, start_station, wait, write_config


def _clip_events(station: object) -> list[dict[str, object]]:
    db = station.journal.db  # type: ignore[attr-defined]
    return list(read_events(db, types=("clip.finalized", "clip.missing", "alert.raised")))


def test_sigkill_mid_recording_then_next_clip_records(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, post_roll_s=30)  # the kill lands in the post-roll
    clips = tmp_path / "data" / "clips"
    p = subprocess.Popen([sys.executable, "-m", "tests.video_helpers", str(cfg), str(tmp_path)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         cwd=Path(__file__).parent.parent)
    try:
        assert p.stdout is not None
        line = p.stdout.readline()
        assert line.startswith("DECIDED "), line
        killed_clip = line.split()[1]
        wait(lambda: any(f.stat().st_size > 0 for f in clips.glob("*/*.part")), what="part file")
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
    assert not list(clips.glob("*/*.mp4"))  # nothing finalized
    # Restart: the leftover is removed, the killed clip is recorded as missing (with an alert).
    write_config(tmp_path, post_roll_s=0.3)
    station = start_station(cfg, tmp_path)
    try:
        assert not list(clips.glob("*/*.part"))
        evs = _clip_events(station)
        assert [e["type"] for e in evs] == ["clip.missing", "alert.raised"]
        missing = evs[0]["body"]
        assert missing["clip_id"] == killed_clip and "interrupted" in missing["reason"]  # type: ignore[index]
        # The next clip records fine and its hash is in the journal.
        ev = decide_line(station, 15300)
        clip_id = ev["body"]["clip_id"]
        assert clip_id and clip_id != killed_clip
        fin = wait(lambda: [e for e in _clip_events(station) if e["type"] == "clip.finalized"],
                   what="clip.finalized")[0]["body"]
        assert fin["clip_id"] == clip_id and fin["event_id"] == ev["event_id"]
        path = clips / fin["file"]
        assert sha256_file(path) == (fin["sha256"], fin["bytes"]) and fin["frames"] >= 5
        assert not any(e["type"] == "clip.finalized" and e["body"]["clip_id"] == killed_clip  # type: ignore[index]
                       for e in _clip_events(station))
        # The post-roll frames carry the decided result in the caption's third line.
        cap = cv2.VideoCapture(str(path))
        last = None
        while (got := cap.read())[0]:
            last = got[1]
        assert last is not None
        result = result_text(ev["type"], ev["body"]["reasons"])
        want = burn(np.zeros((240, 320), np.uint8), ("", "", result),
                    station.cfg.video.font_path)[:, :, ::-1]
        top = 240 - band_height(240, 3) + 4 + 2 * line_height(240)  # 4 px band padding
        rows = slice(top, top + line_height(240))
        diff = np.abs(last[rows].astype(int) - want[rows].astype(int)).mean()
        other = burn(np.zeros((240, 320), np.uint8), ("", "", "验收合格（其他）"),
                     station.cfg.video.font_path)[:, :, ::-1]
        assert diff < 6 and np.abs(last[rows].astype(int) - other[rows].astype(int)).mean() > 1.5 * diff
    finally:
        station.stop()
    # The CLI lists the clip and verifies its hash; a changed file is named.
    r = run_cli("video", "list", "--config", str(cfg))
    assert r.returncode == 0 and json.loads(r.stdout)["clip_id"] == clip_id
    r = run_cli("video", "verify", "--config", str(cfg))
    assert r.returncode == 0 and '"ok"' in r.stdout
    with open(path, "r+b") as f:
        f.write(b"X")
    r = run_cli("video", "verify", "--config", str(cfg))
    assert r.returncode == 1 and "MISMATCH" in r.stdout
    r = run_cli("video", "retention", "--config", str(cfg), "--dry-run")
    assert r.returncode == 0 and json.loads(r.stdout)["delete"] == []  # not stored centrally
