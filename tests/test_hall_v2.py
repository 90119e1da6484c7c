"""Hall v2 in headless Chromium at 1080p: each clip with its own caption, 5 m type, AA contrast, no ids.

And the burned-in captions: a clip's pre-roll (frames filmed before it began)
never shows the previous item or its verdict.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests

from edge.video.caption import band_height, caption_lines
from edge.video.config import VideoSection
from edge.video.recorder import ClipOutcome, Recorder
from edge.vision.sources import SyntheticSource
from edge.vision.worker import Frame
from edge.web.hall import hall_app
from tests.a11y import axe_violations, font_px, small_text
from tests.conftest import ARTIFACTS
from tests.hall_helpers import MENU, HallSystem, build_system, serve
from tests.waiting import wait_until

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}")
# Every presented video frame: is the caption on screen, and is it this clip's?
MONITOR = """() => {
  window.__bad = []; window.__frames = 0;
  const v = document.getElementById('clip');
  const check = () => {
    const cap = document.getElementById('caption');
    const src = (v.currentSrc || '').split('/').pop();
    if (!cap.hidden && cap.dataset.clip !== src) window.__bad.push([src, cap.dataset.clip || null]);
  };
  const onFrame = () => { window.__frames++; check(); v.requestVideoFrameCallback(onFrame); };
  v.requestVideoFrameCallback(onFrame);
  new MutationObserver(check).observe(document.getElementById('caption'),
                                      {attributes: true, subtree: true, childList: true});
}"""


@pytest.fixture
def system(tmp_path: Path) -> Iterator[tuple[HallSystem, str]]:
    clean = {**MENU, "meals": MENU["meals"][:2]}  # the hostile dish is the public page's test
    sysm, central = build_system(tmp_path, f"sqlite:///{tmp_path / 'central.db'}", menu=clean)
    try:
        with serve(hall_app(sysm.source)) as url:
            yield sysm, url
    finally:
        central.shutdown()
        sysm.journal.close()


def _expected(sysm: HallSystem) -> dict[str, dict[str, str]]:
    return {ln["body"]["clip_id"]: {"item": ln["body"]["item"]["name"],
                                    "outcome": "验收合格" if ln["type"] == "line.accepted" else "拒收"}
            for ln in sysm.lines}


def test_each_clip_shows_only_its_own_caption_in_5m_type(system: tuple[HallSystem, str]) -> None:
    from tests.browser import page

    sysm, url = system
    want = _expected(sysm)
    weights = {c["clip_id"]: c["weight"] for c in requests.get(url + "/api/hall", timeout=5).json()["clips"]}
    assert sorted(weights.values()) == ["12 箱", "30.4 斤", "9.8 公斤"]  # the order's unit, not kg.000
    errors: list[str] = []
    with page(1920, 1080) as p:
        p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        p.on("pageerror", lambda exc: errors.append(str(exc)))
        p.goto(url + "/hall?refresh_s=5")
        p.wait_for_function("() => window.hallState && window.hallState().current", timeout=15000)
        p.evaluate(MONITOR)
        seen: list[str] = []
        end = time.monotonic() + 90
        while len(seen) < len(want) + 1:  # every clip, and back round to the first
            assert time.monotonic() < end, f"clips shown: {seen}"
            st = p.wait_for_function(
                f"() => {{ const s = window.hallState(); return s.shown && s.shown === s.current"
                f" && !{seen[-1:]!r}.includes(s.current) ? s.current : null; }}", timeout=30000).json_value()
            cap = p.evaluate("""() => ({clip: document.getElementById('caption').dataset.clip,
                item: document.getElementById('c-item').textContent,
                outcome: document.getElementById('outcome').textContent,
                weight: document.getElementById('c-weight').textContent,
                src: document.getElementById('clip').currentSrc})""")
            assert cap["clip"] == st and cap["src"].endswith(st), cap
            assert cap["item"] == want[st]["item"] and cap["outcome"] == want[st]["outcome"], (st, cap)
            assert cap["weight"] == weights[st]
            seen.append(st)
            if len(seen) <= len(want):  # readable from 5 m, AA contrast: with every clip's caption
                _check_sizes_text_and_contrast(p)
        assert set(seen) == set(want)
        assert p.evaluate("window.__frames") > 20
        assert p.evaluate("window.__bad") == []  # no frame ever showed another clip's caption
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        p.screenshot(path=str(ARTIFACTS / "hall-1080p.png"))
        icon = requests.get(url + "/favicon.ico", timeout=5)
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
    assert errors == []


def _check_sizes_text_and_contrast(p: Any) -> None:
    assert font_px(p, "#outcome") >= 48 and font_px(p, "#c-item") >= 48
    assert font_px(p, "#menu h2") >= 48
    assert small_text(p, "#side", 32) == [] and small_text(p, "#menu", 32) == []
    text = p.inner_text("body")
    assert not re.search(r"[A-Za-z]", text), text  # no English, no codes
    assert not UUID_RE.search(text) and "hall-station" not in text and "13800138000" not in text
    assert "土豆烧牛肉" in p.inner_text("#menu-body") and "小米粥" in p.inner_text("#menu-body")
    assert p.locator("#qr").is_visible()
    assert axe_violations(p) == []


def _band_colour_pixels(img: np.ndarray, lines: int) -> tuple[int, int]:
    """Red and green caption pixels (the verdict's colours) in the caption band of a BGR frame."""
    band = img[img.shape[0] - band_height(img.shape[0], lines):].astype(int)
    b, g, r = band[..., 0], band[..., 1], band[..., 2]
    return int(((r - g > 60) & (r - b > 60)).sum()), int(((g - r > 60) & (g - b > 40)).sum())


def test_pre_roll_never_shows_the_previous_verdict(tmp_path: Path) -> None:
    """A rejected item, then the next one placed within the pre-roll: its clip starts clean."""
    done: list[ClipOutcome] = []
    shown: list[Any] = ["idle", None]  # (owner, result) as the station's video service keeps it

    def caption() -> tuple[str | None, tuple[str, ...]]:
        owner, result = shown
        return owner, caption_lines(clock="12:00:00", supplier="绿源蔬菜", item="鲜牛奶", weight="9.8 公斤",
                                    result=result)

    rec = Recorder(VideoSection(pre_roll_s=1.5, post_roll_s=0.0, fps=10), tmp_path / "clips", caption,
                   done.append)
    src = SyntheticSource(["x"], "code-128", 640, 480)
    src.open()
    t0, n = time.monotonic() - 100, 0

    def feed(count: int) -> None:
        nonlocal n
        for _ in range(count):
            rec.on_frame(Frame(src.read(), t0 + n / 10, n))  # type: ignore[arg-type]
            n += 1

    a = rec.start()
    shown[:] = [a, None]
    feed(10)
    shown[:] = [a, "拒收：已过保质期"]  # decided: the verdict is burned in after the decision
    rec.decided({"seq": 1, "event_id": "e1", "body": {"clip_id": a}})
    feed(10)  # A's verdict frames, in the ring: they will be B's pre-roll
    b = rec.start()
    shown[:] = [b, None]
    feed(10)
    shown[:] = [b, "验收合格"]
    rec.decided({"seq": 2, "event_id": "e2", "body": {"clip_id": b}})
    wait_until(lambda: len(done) == 2, 30, "both clips")
    frames = {}
    for out in done:
        assert out.written is not None
        cap = cv2.VideoCapture(str(out.written.path))
        frames[out.clip_id] = [f for ok, f in iter(cap.read, (False, None)) if ok]
    reds_a = [_band_colour_pixels(f, 3)[0] for f in frames[a]]
    reds_b = [_band_colour_pixels(f, 3)[0] for f in frames[b]]
    assert max(reds_a) > 200  # the detector sees A's own red verdict
    assert len(frames[b]) >= 20 and max(reds_b) < 20, reds_b  # B never shows A's red 拒收
    assert _band_colour_pixels(frames[a][0], 3) < (20, 20)


def test_station_clip_after_a_rejection_opens_without_it(tmp_path: Path) -> None:
    """The real station: a rejected weighing, the item off, the next one on within the pre-roll."""
    from edge.journal import read_events
    from tests.factories import write_station_config
    from tests.video_helpers import STATION_ID, decide_line, start_station, write_config

    write_config(tmp_path)  # the station key
    cfg = write_station_config(  # 640×480 so the caption's colours survive H.264's chroma subsampling
        tmp_path, STATION_ID, school_id="video-school", scale={"simulate": True, "protocol": "ad"},
        camera={"source": "synthetic", "width": 640, "height": 480, "fps": 10,
                "synthetic_codes": ["(00)095212345000000018"], "synthetic_format": "code-128"},
        video={"pre_roll_s": 2.0, "post_roll_s": 0.5, "fps": 10})
    station = start_station(cfg, tmp_path)
    try:
        first = decide_line(station, 9000)  # far below the order: rejected, red 拒收 in the post-roll
        second = decide_line(station, 15200)
        assert (first["type"], second["type"]) == ("line.rejected", "line.accepted")
        assert station.journal is not None
        fins = wait_until(lambda: {e["body"]["event_id"]: e["body"] for e in read_events(
            station.journal.db, types=("clip.finalized",))} if len(list(read_events(
                station.journal.db, types=("clip.finalized",)))) == 2 else None, 30, "two clips")
    finally:
        station.stop()
    clips_dir = tmp_path / "data" / "clips"

    def reds(event_id: str) -> list[int]:
        cap = cv2.VideoCapture(str(clips_dir / fins[event_id]["file"]))
        return [_band_colour_pixels(f, 3)[0] for ok, f in iter(cap.read, (False, None)) if ok]

    assert max(reds(first["event_id"])) > 200  # the rejection's own clip ends in red
    second_reds = reds(second["event_id"])
    assert len(second_reds) >= 5 and max(second_reds) < 20, second_reds
