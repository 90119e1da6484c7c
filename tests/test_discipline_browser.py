"""The discipline loop in headless Chromium: the school leader and the committee explain two
warnings (upload, two stamps), the bureau closes one and escalates the other; the page shows the
events, the clip, the documents and central's chain verification; another school sees nothing."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.api import serve_in_thread
from central.platform import discipline
from central.store import Store
from contract.keys import public_hex
from edge.journal import Journal
from tests.a11y import axe_violations
from tests.browser import page
from tests.discipline_helpers import PDF, add_warning
from tests.sync_harness import central_http, sync_to_central
from tests.web_helpers import add_account, browser_login

CLIP = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40


def _station_with_clip(tmp: Path, cfg: Any) -> list[dict[str, Any]]:
    """Station st-a's signed events at central and its uploaded clip; the two lines' evidence refs."""
    key = Ed25519PrivateKey.generate()
    (tmp / "keys").mkdir()
    (tmp / "keys" / "st-a.pub").write_text(public_hex(key))
    j = Journal(tmp / "a.db", key, "st-a")
    refs = []
    for n in range(2):
        clip_id = str(uuid.uuid4())
        ev = j.append("line.accepted", {"delivery_id": "d-1", "order_id": "PO-1", "line_id": str(n + 1),
                                        "item": {"code": "veg-0101", "name": "上海青"}, "clip_id": clip_id})
        j.append("clip.finalized", {"clip_id": clip_id, "event_seq": ev["seq"],
                                    "sha256": hashlib.sha256(CLIP).hexdigest(), "bytes": len(CLIP)})
        refs.append({"station_id": "st-a", "seq": ev["seq"], "hash": ev["hash"], "type": ev["type"]})
        sha = hashlib.sha256(CLIP).hexdigest()
        (cfg.http.clips_dir / "objects").mkdir(parents=True, exist_ok=True)
        (cfg.http.clips_dir / "objects" / sha).write_bytes(CLIP)
        (cfg.http.clips_dir / "index" / "st-a").mkdir(parents=True, exist_ok=True)
        (cfg.http.clips_dir / "index" / "st-a" / clip_id).write_text(sha)
    assert sync_to_central(j, "st-a", cfg.store.dsn, tmp / "keys") == 4
    j.close()
    return refs


@pytest.fixture
def central(tmp_path: Path, dsn: str) -> Iterator[tuple[str, dict[str, str], Store]]:
    cfg, url = central_http(tmp_path, dsn=dsn)
    cfg = cfg.model_copy(update={"web": cfg.web.model_copy(update={"documents_dir": tmp_path / "docs"})})
    refs = _station_with_clip(tmp_path, cfg)
    store = Store(cfg.store.dsn)
    ids = {"close": add_warning(store, "school-a", "w1", events=[refs[0]]),
           "escalate": add_warning(store, "school-a", "w2", events=[refs[1]]),
           "other": add_warning(store, "school-b", "w3", station="st-b")}
    for name, role, school in (("lead-a", "school_leader", "school-a"),
                               ("comm-a", "discipline_committee", "school-a"),
                               ("bureau", "city_bureau", None), ("lead-b", "school_leader", "school-b")):
        add_account(cfg.store.dsn, name, role, school, name=f"{name} 用户")
    server = serve_in_thread(cfg)
    yield url, ids, store
    server.shutdown()
    store.close()


def _logout(p: Any) -> None:
    p.click("header form button")
    p.wait_for_selector("#login-form")


def test_discipline_loop_in_chromium(tmp_path: Path, central: tuple[str, dict[str, str], Store]) -> None:
    url, ids, store = central
    explanation = tmp_path / "说明.pdf"
    explanation.write_bytes(PDF)
    with page() as p:
        p.goto(f"{url}/web/login")
        assert axe_violations(p) == []
        browser_login(p, url, "lead-a")
        p.click("text=本校预警")
        rows = p.locator(".warning-row")
        assert rows.count() == 2
        for wid in (ids["close"], ids["escalate"]):
            p.goto(f"{url}/web/warnings/{wid}")
            assert "记录链已验证" in p.inner_text("#chain")
            assert p.locator("#events video.clip").count() == 1
            clip_src = p.get_attribute("#events video.clip", "src")
            got = p.request.get(url + str(clip_src))
            assert got.status == 200 and got.body() == CLIP
            p.set_input_files("#file", str(explanation))
            p.click("#upload button")
            p.wait_for_selector("#stamp button")
            assert "说明.pdf" in p.inner_text("#documents")
            assert axe_violations(p) == []  # WCAG A/AA, colour contrast included
            p.click("#stamp button")
            p.wait_for_selector("#stamp:has-text('已由 lead-a 盖章')")
        _logout(p)
        browser_login(p, url, "comm-a")
        for wid in (ids["close"], ids["escalate"]):
            p.goto(f"{url}/web/warnings/{wid}")
            p.click("#stamp button")
            p.wait_for_selector("#state:has-text('已说明')")
        assert axe_violations(p) == []  # the explained state's colour
        doc = p.request.get(url + str(p.get_attribute("#documents a", "href")))
        assert doc.status == 200 and doc.body() == PDF
        _logout(p)
        browser_login(p, url, "bureau")
        p.goto(f"{url}/web/warnings/{ids['close']}")
        p.fill("#note", "说明属实，结案")
        p.click("#review button[value=close]")
        p.wait_for_selector("#state:has-text('已结案')")
        p.goto(f"{url}/web/warnings/{ids['escalate']}")
        p.fill("#note", "送区纪委核查")
        p.click("#review button[value=escalate]")
        p.wait_for_selector("#state:has-text('已上报')")
        assert "送区纪委核查" in p.inner_text("#history")
        p.goto(f"{url}/web/warnings")
        assert axe_violations(p) == []  # every state's colour on the list
        p.goto(f"{url}/web/overview")
        assert p.locator("#chart rect.bar").count() >= 2
        assert axe_violations(p) == []
        _logout(p)
        browser_login(p, url, "lead-b")
        p.goto(f"{url}/web/warnings")
        assert p.locator(".warning-row").count() == 1
        assert ids["close"] not in p.content() and "school-a" not in p.content()
        resp = p.goto(f"{url}/web/warnings/{ids['close']}")
        assert resp is not None and resp.status == 404 and "上海青" not in p.content()
    assert [x["account"] for x in discipline.history(store, ids["close"])] == [
        "system", "lead-a", "lead-a", "comm-a", "comm-a", "bureau"]
    assert discipline.case(store, ids["escalate"]).state == "escalated"  # type: ignore[union-attr]
