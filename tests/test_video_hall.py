"""The hall display: JSON, range requests, read-only LAN app, and headless Chromium playing clips."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.api import serve_in_thread
from core.http import make_session
from edge.journal import Journal
from edge.video import clips
from edge.video.caption import caption_lines
from edge.video.config import VideoSection
from edge.video.recorder import ClipOutcome, Recorder
from edge.vision.sources import SyntheticSource
from edge.vision.worker import Frame
from edge.web.hall import HallSource, MenuCache, central_menu, hall_app
from tests.conftest import ARTIFACTS
from tests.sync_harness import central_http, free_port, station_token

TZ = ZoneInfo("Asia/Shanghai")
STATION = "hall-station-01"


def _record(j: Journal, clips_dir: Path, kind: str, item: str, net_g: int, reasons: list[str],
            seconds: float) -> dict[str, Any]:
    done: list[ClipOutcome] = []
    rec = Recorder(VideoSection(pre_roll_s=0, post_roll_s=0, fps=10), clips_dir,
                   lambda: caption_lines(clock="12:00:00", station=STATION, supplier="绿源蔬菜",
                                         item=item, net_g=net_g, result=None), done.append)
    cid = rec.start()
    src = SyntheticSource(["(00)095212345000000018"], "code-128", 320, 240)
    src.open()
    t0 = time.monotonic()
    for i in range(int(seconds * 10)):
        rec.on_frame(Frame(src.read(), t0 + i / 10, i))  # type: ignore[arg-type]
    line = j.append(kind, {"clip_id": cid, "supplier": {"name": "绿源蔬菜"},
                           "item": {"name": item}, "measured": {"net_g": net_g},
                           "reasons": reasons})
    rec.decided(line)
    end = time.monotonic() + 20
    while not done and time.monotonic() < end:
        time.sleep(0.05)
    ev = clips.record_outcome(j, done[0], clips_dir)
    assert ev is not None and ev["type"] == "clip.finalized"
    return line


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[tuple[str, Journal, list[dict[str, Any]]]]:
    j = Journal(tmp_path / "station.db", Ed25519PrivateKey.generate(), STATION)
    cdir = tmp_path / "clips"
    lines = [_record(j, cdir, "line.accepted", "土豆", 15200, [], 2.0),
             _record(j, cdir, "line.rejected", "鲜牛奶", 9800, ["EXPIRED"], 2.0)]
    day = datetime.now(UTC).astimezone(TZ).date().isoformat()
    (tmp_path / "menus" / "hall-school").mkdir(parents=True)
    (tmp_path / "menus" / "hall-school" / f"{day}.json").write_text(json.dumps(
        {"date": day, "meals": [{"name": "午餐", "dishes": ["土豆烧牛肉", "清炒菠菜"]}]}),
        encoding="utf-8")
    ccfg, curl = central_http(tmp_path)
    central = serve_in_thread(ccfg)
    menu = MenuCache(central_menu(curl, "hall-school", 2,
                                  make_session(0, station_token(ccfg, STATION, tmp_path))))
    src = HallSource(tmp_path / "station.db", cdir, STATION, TZ, menu)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(hall_app(src), host="127.0.0.1", port=port,
                                        log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            if requests.get(url + "/api/hall", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.05)
    yield url, j, lines
    srv.should_exit = True
    t.join(5)
    central.shutdown()
    j.close()


def test_hall_json_range_and_read_only(hall: tuple[str, Journal, list[dict[str, Any]]]) -> None:
    url, _, lines = hall
    doc = requests.get(url + "/api/hall", timeout=5).json()
    cards = doc["clips"]
    assert [c["event_id"] for c in cards] == [lines[1]["event_id"], lines[0]["event_id"]]  # newest first
    rej = cards[0]
    assert rej["outcome_text"] == "拒收" and rej["reasons"] == ["已过保质期"]
    assert rej["weight"] == "9.800 kg" and rej["item"] == "鲜牛奶" and rej["hash"] == lines[1]["hash"]
    assert doc["menu"]["meals"][0]["dishes"] == ["土豆烧牛肉", "清炒菠菜"]
    full = requests.get(url + rej["url"], timeout=5)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    part = requests.get(url + rej["url"], headers={"Range": "bytes=100-299"}, timeout=5)
    assert part.status_code == 206 and part.content == full.content[100:300]
    assert part.headers["content-range"] == f"bytes 100-299/{len(full.content)}"
    qr = requests.get(url + rej["qr"], timeout=5)
    assert qr.status_code == 200 and qr.text.lstrip().startswith("<?xml")
    # The LAN app serves the hall only: no kiosk API, no other static file, no unknown clip.
    assert requests.get(url + "/api/state", timeout=5).status_code == 404
    assert requests.post(url + "/api/confirm", json={"placement_id": 0}, timeout=5).status_code in (404, 405)
    assert requests.get(url + "/hall/static/kiosk.js", timeout=5).status_code == 404
    assert requests.get(url + "/clips/00000000-0000-4000-8000-000000000000", timeout=5).status_code == 404


def test_chromium_plays_clips_in_turn(hall: tuple[str, Journal, list[dict[str, Any]]]) -> None:
    from tests.browser import page

    url, _, lines = hall
    with page(1280, 720) as p:
        p.goto(url + "/hall?refresh_s=2")
        first = p.wait_for_function("() => window.hallState && window.hallState().current",
                                    timeout=15000).json_value()
        assert first == lines[1]["body"]["clip_id"]  # the newest first
        p.wait_for_function("() => window.hallState().time > 0.3", timeout=15000)
        t1 = p.evaluate("() => window.hallState().time")
        p.wait_for_function(f"() => window.hallState().time > {t1} + 0.2", timeout=10000)
        assert p.inner_text("#outcome") == "拒收"
        p.wait_for_function(
            f"() => window.hallState().current === '{lines[0]['body']['clip_id']}'", timeout=15000)
        p.wait_for_function("() => window.hallState().time > 0.2", timeout=15000)
        assert p.inner_text("#outcome") == "验收合格"
        assert "土豆烧牛肉" in p.inner_text("#menu-body")
        # The list cannot be fetched: the page says so, keeps playing, and recovers by itself.
        p.route("**/api/hall", lambda route: route.abort())
        p.wait_for_selector("#net", state="visible", timeout=10000)
        t2 = p.evaluate("() => window.hallState().time")
        p.wait_for_function(f"() => window.hallState().time !== {t2}", timeout=10000)
        p.unroute("**/api/hall")
        p.wait_for_selector("#net", state="hidden", timeout=10000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        p.screenshot(path=str(ARTIFACTS / "hall.png"))


def test_hall_server_from_config_without_central(tmp_path: Path) -> None:
    """`run` starts this server on [web] hall_host:hall_port; central down leaves the menu empty."""
    from app.config import StationConfig
    from app.run import start_hall_server
    from edge.web.hall import hall_source

    cfg = StationConfig.model_validate({
        "station": {"station_id": STATION, "school_id": "hall-school",
                    "data_dir": str(tmp_path), "key_path": str(tmp_path / "k")},
        "orders": {"api_url": f"http://127.0.0.1:{free_port()}"},
        "web": {"menu_timeout_s": 1},
    })
    Journal(cfg.station.db_path, Ed25519PrivateKey.generate(), STATION).close()
    port = free_port()
    srv = start_hall_server(hall_source(cfg), "127.0.0.1", port)
    try:
        url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 10
        while True:
            try:
                r = requests.get(url + "/api/hall", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < end
                time.sleep(0.05)
        doc = r.json()
        assert doc["clips"] == [] and doc["menu"] is None and doc["menu_error"] == "ConnectionError"
        assert requests.get(url + "/hall", timeout=5).status_code == 200
        assert requests.get(url + "/api/state", timeout=5).status_code == 404
    finally:
        srv.should_exit = True
