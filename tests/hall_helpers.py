"""Hall test helpers: record real clips (PyAV/x264) for journal lines, serve the hall app."""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.journal import Journal
from edge.video import clips
from edge.video.caption import caption_lines
from edge.video.config import VideoSection
from edge.video.recorder import ClipOutcome, Recorder
from edge.vision.sources import SyntheticSource
from edge.vision.worker import Frame
from edge.web.hall import HallSource
from tests.sync_harness import free_port
from tests.waiting import wait_until
from tests.web_helpers import serving

TZ = ZoneInfo("Asia/Shanghai")
STATION = "hall-station-01"
SCHOOL = "hall-school"
MENU: dict[str, Any] = {"school_name": "城东小学", "meals": [
    {"name": "早餐", "dishes": ["小米粥", "鸡蛋", "花卷"]},
    {"name": "午餐", "dishes": ["土豆烧牛肉", "清炒菠菜", "番茄蛋汤", "米饭"]},
    {"name": "晚餐", "dishes": ["<script>alert(1)</script>面条"]}]}
SUPPLIER = {"supplier_id": "lvyuan-veg", "name": "绿源蔬菜", "contact": "王经理 13800138000",
            "address": "城东路 1 号"}
# (type, body) of three decided lines in three units: 斤, 公斤 and a count (箱).
LINES: list[tuple[str, dict[str, Any]]] = [
    ("line.accepted", {"item": {"name": "土豆", "code": "veg-potato"},
                       "ordered": {"value": "30", "unit": "jin"}, "measured": {"net_g": 15200},
                       "reasons": []}),
    ("line.rejected", {"item": {"name": "鲜牛奶", "code": "milk-1l"},
                       "ordered": {"value": "10", "unit": "kg"}, "measured": {"net_g": 9800},
                       "reasons": ["EXPIRED"]}),
    ("line.accepted", {"item": {"name": "鸡蛋", "code": "egg-box"},
                       "ordered": {"value": "12", "unit": "box"}, "measured": {"net_g": 18000, "pieces": 12},
                       "reasons": []}),
]


def record_line(j: Journal, clips_dir: Path, kind: str, body: dict[str, Any],
                seconds: float = 2.0) -> dict[str, Any]:
    """A real clip of ``seconds`` for a new line event; its clip.finalized appended. The line event."""
    done: list[ClipOutcome] = []
    item = body["item"]["name"]
    rec = Recorder(VideoSection(pre_roll_s=0, post_roll_s=0, fps=10), clips_dir,
                   lambda: (None, caption_lines(clock="12:00:00", supplier=SUPPLIER["name"], item=item,
                                                weight=None, result=None)), done.append)
    cid = rec.start()
    src = SyntheticSource(["(00)095212345000000018"], "code-128", 320, 240)
    src.open()
    t0 = time.monotonic()
    for i in range(int(seconds * 10)):
        rec.on_frame(Frame(src.read(), t0 + i / 10, i))  # type: ignore[arg-type]
    line = j.append(kind, {"clip_id": cid, "supplier": SUPPLIER, "inspectors": ["staff-007", "staff-011"],
                           "inspector_names": ["李娜", "张伟"], **body})
    rec.decided(line)
    wait_until(lambda: done, 30, "the clip to be written")
    ev = clips.record_outcome(j, done[0], clips_dir)
    assert ev is not None and ev["type"] == "clip.finalized"
    return line


def serve(app: Any) -> AbstractContextManager[str]:
    """Serve an ASGI app on a free loopback port in a thread; yields its base URL."""
    return serving(lambda _port: app)




@dataclass
class HallSystem:
    """A station journal with three filmed decisions, synced and uploaded to a real central (HTTPS)."""

    tmp: Path
    journal: Journal
    lines: list[dict[str, Any]]
    central_cfg: Any
    central_url: str  # https://127.0.0.1:<port>
    ca: Path  # verifies central's certificate
    source: HallSource


def build_system(tmp: Path, dsn: str, *, menu: dict[str, Any] | None = None) -> tuple[HallSystem, Any]:
    """Station journal + clips, central over HTTPS with public pages, events ingested, clips uploaded.

    Returns the system and central's running server (``shutdown()`` it).
    """
    from central.api import serve_in_thread
    from central.config import CentralConfig
    from contract.keys import public_hex
    from core.http import make_session
    from edge.web.hall import HallSource, MenuCache, central_menu
    from testbed.pki import make_pki
    from tests.sync_harness import station_token, sync_to_central

    key = Ed25519PrivateKey.generate()
    j = Journal(tmp / "station.db", key, STATION)
    cdir = tmp / "clips"
    lines = [record_line(j, cdir, kind, body) for kind, body in LINES]
    (tmp / "keys").mkdir()
    (tmp / "keys" / f"{STATION}.pub").write_text(public_hex(key) + "\n")
    make_pki(tmp / "pki", [])
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    (tmp / "master.json").write_text(json.dumps({"stations": {STATION: SCHOOL}}))
    day = datetime.now(UTC).astimezone(TZ).date().isoformat()
    (tmp / "menus" / SCHOOL).mkdir(parents=True)
    (tmp / "menus" / SCHOOL / f"{day}.json").write_text(json.dumps(menu or MENU | {"date": day}),
                                                         encoding="utf-8")
    cfg = CentralConfig.model_validate({
        "http": {"bind": f"127.0.0.1:{port}", "orders_dir": str(tmp / "orders"),
                 "menus_dir": str(tmp / "menus"), "clips_dir": str(tmp / "central-clips"),
                 "tokens_file": str(tmp / "central-tokens"), "public_base_url": base,
                 "tls_cert_file": str(tmp / "pki" / "broker.crt"),
                 "tls_key_file": str(tmp / "pki" / "broker.key")},
        "store": {"dsn": dsn}, "registry": {"keys_dir": str(tmp / "keys")},
        "indicators": {"master_data_file": str(tmp / "master.json")}})
    assert sync_to_central(j, STATION, dsn, tmp / "keys") == j.last_seq()
    server = serve_in_thread(cfg)
    token = station_token(cfg, STATION, tmp)
    ca = tmp / "pki" / "ca.crt"
    s = make_session(0, token, ca)
    for row in j.db.execute("SELECT event FROM events WHERE type='clip.finalized'"):
        body = json.loads(row[0])["body"]
        r = s.put(f"{base}/v1/stations/{STATION}/clips/{body['clip_id']}",
                  data=(cdir / body["file"]).read_bytes(),
                  headers={"X-Content-SHA256": body["sha256"], "Content-Type": "video/mp4"}, timeout=30)
        assert r.status_code == 201, r.text
    menu_cache = MenuCache(central_menu(base, SCHOOL, 5, s))
    src = HallSource(tmp / "station.db", cdir, STATION, TZ, menu_cache, base)
    return HallSystem(tmp, j, lines, cfg, base, ca, src), server
