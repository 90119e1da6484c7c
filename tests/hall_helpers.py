"""Hall test helpers: record real clips (PyAV/x264) for journal lines, serve the hall app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from edge.journal import Journal
from edge.video import clips
from edge.video.caption import caption_lines
from edge.video.config import VideoSection
from edge.video.recorder import ClipOutcome, Recorder
from edge.vision.sources import SyntheticSource
from edge.vision.worker import Frame
from tests.sync_harness import free_port
from tests.waiting import wait_until

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


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: srv.started or not t.is_alive(), 10, "the server to start")
    assert srv.started, "server did not start"
    try:
        yield url
    finally:
        srv.should_exit = True
        t.join(5)


