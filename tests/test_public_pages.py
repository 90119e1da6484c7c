"""Central's public pages: the hall QR's record page (verified for real), the school's menu and day.

A real central serves them over HTTPS (test PKI); the station's events reach it
through the real ingest and its clips through the real upload route.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests
import zxingcpp
from fastapi.testclient import TestClient

from central.api import create_app
from central.public.routes import ClientLimits
from edge.web.hall import hall_app
from tests.a11y import axe_violations
from tests.conftest import ARTIFACTS
from tests.hall_helpers import SCHOOL, STATION, HallSystem, build_system, serve
from tests.sync_harness import pg_schema

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PHONE_RE = re.compile(r"1[3-9]\d{9}")


@contextmanager
def phone_page() -> Iterator[Any]:
    """Headless Chromium as a phone (390×844, touch); trusts nothing but ignores the test CA's name."""
    from tests.browser import page

    with page(390, 844, touch=True, is_mobile=True, ignore_https_errors=True) as p:
        yield p


class _Systems:
    """The module's read-only systems, one per store kind, each built on first use.

    Building one records three clips and starts central over HTTPS (~1.5 CPU-s, ~4 s under
    load, and ~3 s to stop it after a browser has used it); the tests that only read it share
    it. The test that alters a stored event builds its own.
    """

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.built: dict[str, tuple[HallSystem, Any]] = {}
        self.schemas = ExitStack()

    def get(self, kind: str) -> HallSystem:
        if kind not in self.built:
            tmp = self.tmp.mktemp(f"public-{kind}")
            dsn = (f"sqlite:///{tmp / 'central.db'}" if kind == "sqlite"
                   else self.schemas.enter_context(pg_schema()))
            self.built[kind] = build_system(tmp, dsn)
        return self.built[kind][0]

    def close(self) -> None:
        for sysm, central in self.built.values():
            central.shutdown()
            sysm.journal.close()
        self.schemas.close()


@pytest.fixture(scope="module")
def systems(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Systems]:
    s = _Systems(tmp_path_factory)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def system(request: pytest.FixtureRequest, systems: _Systems) -> HallSystem:
    """The shared system on SQLite, or on a fresh PostgreSQL schema."""
    return systems.get(request.param)


@pytest.fixture
def sqlite_system(systems: _Systems) -> HallSystem:
    return systems.get("sqlite")


def _assert_public_text(text: str) -> None:
    """Names and words only: no ids, no codes, no phone numbers."""
    assert not UUID_RE.search(text) and not PHONE_RE.search(text), text
    assert STATION not in text and SCHOOL not in text and "staff-0" not in text and "veg-potato" not in text


def _qr_from_hall(url: str) -> tuple[str, str]:
    """The QR on the hall screen, decoded from a 1080p screenshot: (URL, clip id whose caption shows it)."""
    from tests.browser import page

    with page(1920, 1080) as p:
        p.goto(url + "/hall")
        p.wait_for_function("() => { const s = window.hallState && window.hallState();"
                            " const q = document.getElementById('qr');"
                            " return s && s.shown && q.complete && q.naturalWidth > 0; }", timeout=20000)
        clip = p.evaluate("window.hallState().shown")
        png = p.screenshot(full_page=False)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "hall-qr.png").write_bytes(png)
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    found = [r.text for r in zxingcpp.read_barcodes(img) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(found) == 1, found
    return found[0], str(clip)


def test_hall_qr_opens_the_verified_record_at_central(system: HallSystem) -> None:
    sysm = system
    with serve(hall_app(sysm.source)) as hall:
        target, clip_id = _qr_from_hall(hall)
    line = next(ln for ln in sysm.lines if ln["body"]["clip_id"] == clip_id)
    assert target == f"{sysm.central_url}/public/records/{STATION}/{line['event_id']}"
    assert target.startswith("https://")
    r = requests.get(target, verify=str(sysm.ca), timeout=10)  # no token, no cookie
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    html = r.text
    assert "签名已验证" in html and "未能验证" not in html
    b = line["body"]
    assert b["item"]["name"] in html and "绿源蔬菜" in html and "李娜、张伟" in html
    for ln in sysm.lines:  # the shown record is this line's
        assert (ln["body"]["item"]["name"] in html) == (ln is line)
    src = re.search(r'<video id="clip"[^>]* src="([^"]+)"', html)
    assert src is not None
    video = requests.get(sysm.central_url + src.group(1), verify=str(sysm.ca), timeout=10)
    local = next((sysm.tmp / "clips").glob(f"*/{clip_id}.mp4")).read_bytes()
    assert video.status_code == 200 and video.content == local
    part = requests.get(sysm.central_url + src.group(1), headers={"Range": "bytes=0-99"},
                        verify=str(sysm.ca), timeout=10)
    assert part.status_code == 206 and part.content == local[:100]
    # Every record in its own unit, with its reasons; read on a phone, nothing to log in to.
    with phone_page() as p:
        for ln in sysm.lines:
            p.goto(f"{sysm.central_url}/public/records/{STATION}/{ln['event_id']}")
            text = p.inner_text("body")
            assert "签名已验证" in text and ln["body"]["item"]["name"] in text
            want = {"土豆": "30.4 斤", "鲜牛奶": "9.8 公斤", "鸡蛋": "12 箱"}[ln["body"]["item"]["name"]]
            assert want in text and ("已过保质期" in text) == (ln["type"] == "line.rejected")
            _assert_public_text(text)
            assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            p.wait_for_function("document.getElementById('clip').readyState >= 1", timeout=15000)
            assert axe_violations(p) == []
        p.screenshot(path=str(ARTIFACTS / "public-record.png"), full_page=True)


def test_record_page_says_unverified_when_the_stored_event_was_altered(tmp_path: Path) -> None:
    sysm, central = build_system(tmp_path, f"sqlite:///{tmp_path / 'central.db'}")
    try:
        line = sysm.lines[0]
        url = f"{sysm.central_url}/public/records/{STATION}/{line['event_id']}"
        assert "签名已验证" in requests.get(url, verify=str(sysm.ca), timeout=10).text
        db = sqlite3.connect(tmp_path / "central.db")
        eid = line["event_id"]
        ev = json.loads(db.execute("SELECT event FROM central_events WHERE event_id=?", (eid,)).fetchone()[0])
        ev["body"]["measured"]["net_g"] = 25200  # someone with database access adds 10 kg
        with db:
            db.execute("UPDATE central_events SET event=? WHERE event_id=?", (json.dumps(ev), eid))
        db.close()
        html = requests.get(url, verify=str(sysm.ca), timeout=10).text
        assert "签名已验证" not in html and "未能验证签名" in html
    finally:
        central.shutdown()
        sysm.journal.close()


def test_school_page_has_menu_and_day_without_login_ids_or_phones(sqlite_system: HallSystem) -> None:
    sysm = sqlite_system
    with phone_page() as p:
        resp = p.goto(f"{sysm.central_url}/public/schools/{SCHOOL}")
        assert resp is not None and resp.status == 200
        text = p.inner_text("body")
        assert "城东小学今日菜单" in text and "土豆烧牛肉" in text and "小米粥" in text
        # A hostile dish name is shown as text: no script element, nothing ran.
        assert "<script>alert(1)</script>面条" in text
        assert p.evaluate("document.querySelectorAll('script').length") == 0
        assert "今日共验收 3 项：合格 2 项，拒收 1 项" in text and "绿源蔬菜" in text
        assert "30.4 斤" in text and "12 箱" in text
        _assert_public_text(text)
        assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert axe_violations(p) == []
        p.screenshot(path=str(ARTIFACTS / "public-school.png"), full_page=True)
        links = p.eval_on_selector_all("ul.lines a", "els => els.map(a => a.getAttribute('href'))")
        assert sorted(links) == sorted(f"/public/records/{STATION}/{ln['event_id']}" for ln in sysm.lines)
        p.tap("ul.lines li.rejected a")
        p.wait_for_selector("#verified")
        assert "鲜牛奶" in p.inner_text("#item") and "签名已验证" in p.inner_text("#verified")
        assert p.context.cookies() == []


def test_public_routes_refuse_bad_input_and_floods(sqlite_system: HallSystem) -> None:
    sysm = sqlite_system
    client = TestClient(create_app(sysm.central_cfg))
    ev = sysm.lines[0]["event_id"]
    assert client.get(f"/public/records/{STATION}/{ev}").status_code == 200
    for path in (f"/public/records/{'a' * 5000}/{ev}", f"/public/records/{STATION}/not-a-uuid",
                 f"/public/records/{STATION}/00000000-0000-4000-8000-000000000000",
                 f"/public/records/other-station-9/{ev}", "/public/records/..%2F..%2Fetc/passwd",
                 f"/public/clips/{STATION}/00000000-0000-4000-8000-000000000000",
                 "/public/schools/no-such-school", f"/public/schools/{SCHOOL}?date=2026-13-45",
                 f"/public/schools/{SCHOOL}?date=<b>", "/public/static/../../config.py"):
        r = client.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "<b>" not in r.text
    assert client.post(f"/public/records/{STATION}/{ev}").status_code == 405
    # The clip.finalized event is not a decided line: no public page of its own.
    fin = sqlite3.connect(sysm.tmp / "station.db")
    other = fin.execute("SELECT event_id FROM events WHERE type='clip.finalized'").fetchone()[0]
    fin.close()
    assert client.get(f"/public/records/{STATION}/{other}").status_code == 404
    # Off unless public_base_url is set.
    off = sysm.central_cfg.model_copy(update={"http": sysm.central_cfg.http.model_copy(
        update={"public_base_url": None})})
    assert TestClient(create_app(off)).get(f"/public/records/{STATION}/{ev}").status_code == 404
    # A flood from one address gets 429 beyond its burst; another address is unaffected.
    tight = sysm.central_cfg.model_copy(update={"http": sysm.central_cfg.http.model_copy(
        update={"public_burst": 3, "public_requests_per_s": 0.01})})
    c = TestClient(create_app(tight))
    codes = [c.get(f"/public/schools/{SCHOOL}").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limits = ClientLimits(1.0, 2)
    assert [limits.allow("a", 0.0) for _ in range(3)] == [True, True, False]
    assert limits.allow("b", 0.0) and limits.allow("a", 1.0)
