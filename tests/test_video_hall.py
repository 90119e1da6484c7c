"""The hall display: JSON, range requests, read-only LAN app, and headless Chromium playing clips."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.api import serve_in_thread
from core.http import make_session
from edge.journal import Journal
from edge.web.hall import HallSource, MenuCache, central_menu, hall_app
from tests.conftest import ARTIFACTS
from tests.hall_helpers import LINES, record_line
from tests.sync_harness import central_http, free_port, station_token
from tests.web_helpers import serving

TZ = ZoneInfo("Asia/Shanghai")
STATION = "hall-station-01"


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[tuple[str, Journal, list[dict[str, Any]]]]:
    j = Journal(tmp_path / "station.db", Ed25519PrivateKey.generate(), STATION)
    cdir = tmp_path / "clips"
    lines = [record_line(j, cdir, *LINES[0]), record_line(j, cdir, *LINES[1])]
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
    with serving(lambda _port: hall_app(src)) as url:
        yield url, j, lines
    central.shutdown()
    j.close()


def test_hall_json_range_and_read_only(hall: tuple[str, Journal, list[dict[str, Any]]]) -> None:
    url, _, lines = hall
    doc = requests.get(url + "/api/hall", timeout=5).json()
    cards = doc["clips"]
    assert [c["event_id"] for c in cards] == [lines[1]["event_id"], lines[0]["event_id"]]  # newest first
    rej = cards[0]
    assert rej["outcome_text"] == "拒收" and rej["reasons"] == ["已过保质期"]
    assert rej["weight"] == "9.8 公斤" and rej["item"] == "鲜牛奶" and rej["hash"] == lines[1]["hash"]
    assert cards[1]["weight"] == "30.4 斤" and cards[1]["inspectors"] == ["李娜", "张伟"]
    assert rej["qr"] is None  # no [web] public_base_url: no QR code (tests/test_hall_public.py has one)
    assert doc["menu"]["meals"][0]["dishes"] == ["土豆烧牛肉", "清炒菠菜"]
    full = requests.get(url + rej["url"], timeout=5)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    part = requests.get(url + rej["url"], headers={"Range": "bytes=100-299"}, timeout=5)
    assert part.status_code == 206 and part.content == full.content[100:300]
    assert part.headers["content-range"] == f"bytes 100-299/{len(full.content)}"
    assert requests.get(url + f"/hall/qr/{lines[1]['event_id']}.svg", timeout=5).status_code == 404
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
