"""The kiosk at the screen sizes of real Pi kiosks (800×480, 1024×600, 1280×800), in headless
Chromium on a touch screen: a whole delivery by taps alone (sign-in on the keypad, accept,
reject overweight, dispose with the driver's signature, close with its confirmation). At each
step the task's key elements are inside the viewport without scrolling, axe-core finds no
WCAG A/AA violation, and the page logs no console error. Screenshots go to the artefacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page

from edge.blobs import BlobStore
from edge.journal import Journal, read_events
from edge.web.app import Hub, create_app
from edge.web.guard import Access
from edge.web.voice import SoundSection, VoiceClips
from edge.workflow.driver import Workflow
from edge.workflow.model import Input, Reading, Result, SelectLine, Weight
from tests.a11y import ConsoleErrors, axe_violations
from tests.browser import page, press, sign_in
from tests.conftest import ARTIFACTS
from tests.test_inspection_api import POLICY  # the station config's defaults
from tests.test_web_api import NOW, ORDERS, VEG
from tests.test_workflow import MEAT, ROSTER
from tests.web_helpers import serving

SIZES = [(800, 480), (1024, 600), (1280, 800)]
DEVICES = {"scale": {"ok": True, "text": "已连接"},
           "sync": {"ok": False, "text": "离线 · 正在重连 · 待传 3 条（最早 5 分钟前）",
                    "state": "offline"},
           "video": {"ok": True, "text": "待录像"}, "disk": {"ok": True, "text": "剩余 20 GB"}}


class Station:
    """The workflow as the station drives it: every input handled, then the page told."""

    def __init__(self, wf: Workflow, hub: Hub) -> None:
        self.wf, self.hub = wf, hub

    def handle(self, inp: Input) -> Result:
        res = self.wf.handle(inp)
        self.hub.bump()
        return res


@pytest.fixture
def served(journal: Journal, tmp_path: Path) -> Iterator[tuple[str, Station]]:
    wf = Workflow(journal, lambda: ORDERS, POLICY, now=lambda: NOW, max_weight_age_s=1e9,
                  roster=lambda: ROSTER)
    hub = Hub()
    voice = VoiceClips(SoundSection(), tmp_path / "voice")
    with serving(lambda port: create_app(wf, lambda: ORDERS, lambda: DEVICES, hub,
                                         stream_interval_s=0.05, access=Access(port=port),
                                         blobs=BlobStore(tmp_path / "blobs"),
                                         sound=SoundSection(volume=60), voice=voice)) as url:
        yield url, Station(wf, hub)


def in_view(p: Page, selector: str) -> None:
    """``selector`` is visible and wholly inside the viewport, and the page does not scroll."""
    box = p.locator(selector).first.bounding_box()
    size = p.viewport_size
    if box is None:
        print(selector, "not shown on", p.evaluate("JSON.stringify([K.screen, K.ui, K.rev])"))
    assert box is not None and size is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= size["width"] + 0.5, (selector, box, size)
    assert box["y"] + box["height"] <= size["height"] + 0.5, (selector, box, size)
    scroll = p.evaluate("[document.scrollingElement.scrollHeight, innerHeight]")
    assert scroll[0] <= scroll[1], f"the page scrolls: {scroll}"


def accessible(p: Page, what: str, size: tuple[int, int]) -> None:
    found = axe_violations(p)
    assert found == [], f"{what} at {size}: {found}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / f"kiosk-{size[0]}x{size[1]}-{what}.png"))


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_a_delivery_by_taps_at_each_screen_size(served: tuple[str, Station], journal: Journal,
                                                 size: tuple[int, int]) -> None:
    url, wf = served
    with page(*size, touch=True) as p:
        errors = ConsoleErrors(p)
        p.goto(url + "/")
        p.wait_for_selector("#roster [data-inspector='zhang']")
        accessible(p, "signin", size)
        press(p, "#roster [data-inspector='zhang']")
        p.wait_for_selector("#keypad:not([hidden])")
        in_view(p, "#keypad-ok")
        accessible(p, "keypad", size)
        press(p, "#keypad-cancel")
        sign_in(p, "zhang", "li")
        p.wait_for_selector(f"#order-list [data-order='{VEG}']")
        accessible(p, "orders", size)
        _accept_and_reject(p, wf, size)
        _close(p, wf, size)
        assert requests.get(url + "/favicon.ico", timeout=5).status_code == 200
        assert errors.errors == []
    types = [e["type"] for e in read_events(journal.db)]
    assert types.count("line.accepted") == 1 and types.count("line.rejected") == 1
    assert types[-1] == "delivery.closed"


def _accept_and_reject(p: Page, wf: Station, size: tuple[int, int]) -> None:
    press(p, f"#order-list [data-order='{VEG}']")
    p.wait_for_selector("#lines [data-line='1']")
    for line in ("1", "2", "3", "4"):
        in_view(p, f"#lines [data-line='{line}']")
    accessible(p, "lines", size)
    press(p, "#lines [data-line='1']")
    wf.handle(Reading(Weight(net_g=15200, stable=True, raw="S S 15.200 kg")))
    p.wait_for_selector("#stable.ok")
    for key in ("#weight", "#band", "#confirm"):
        in_view(p, key)
    accessible(p, "weigh", size)
    press(p, "#confirm")
    p.wait_for_selector(".decision.accepted:has-text('合格')")
    in_view(p, "#decision")
    in_view(p, "#decision-action")
    accessible(p, "accepted", size)
    played = p.evaluate("K.sound.played")
    assert played[-1] == {"outcome": "accepted", "say": "accepted", "voice": played[-1]["voice"],
                          "volume": 60}

    wf.handle(Reading(Weight(net_g=0, stable=True)))  # taken off: the screen clears
    p.wait_for_selector("#decision", state="hidden")
    p.wait_for_selector("#lines-done [data-line='1']")
    press(p, "#lines [data-line='2']")
    wf.handle(Reading(Weight(net_g=27000, stable=True)))
    p.wait_for_selector("#weight:has-text('27 公斤')")
    # The tap's selection and the reading reach the screen in either order: a state with the
    # weight but no line yet hides the band (keeping its last class), so wait for the band shown.
    p.wait_for_selector("#band.over:not([hidden])")
    press(p, "#confirm")
    p.wait_for_selector(".decision.rejected")
    assert "超重 0.75 公斤" in p.inner_text("#decision-title")
    assert p.inner_text("#decision-action") == "请取出多余部分后重称"
    assert "允许 24.25 公斤–26.25 公斤" in p.inner_text("#decision-ranges")
    in_view(p, "#decision-reasons")
    accessible(p, "rejected", size)
    assert p.evaluate("K.sound.played")[-1]["say"] == "overweight"
    wf.handle(Reading(Weight(net_g=0, stable=True)))
    p.wait_for_selector("#decision", state="hidden")


def _close(p: Page, wf: Station, size: tuple[int, int]) -> None:
    press(p, "#close-delivery")
    p.wait_for_selector("#close-counts:has-text('已验收 1 项，拒收 1 项，未送达 2 项')")
    assert p.is_disabled("#close-confirm")
    press(p, "#rejection-list button")
    press(p, "#dispose .choices button[data-disposition='returned']")
    _sign(p)
    in_view(p, "#dispose-confirm")
    accessible(p, "dispose", size)
    press(p, "#dispose-confirm")
    p.wait_for_selector("#rejection-list li:has-text('退回供应商（已确认）')")
    in_view(p, "#close-confirm")
    press(p, "#close-confirm")
    p.wait_for_selector("#closed:not([hidden])")
    assert "验收 1 项，拒收 1 项，未送达 2 项" in p.inner_text("#closed-title")
    assert "土豆：退回供应商" in p.inner_text("#closed-rejected")
    assert "西红柿" in p.inner_text("#closed-missing") and "土豆" not in p.inner_text("#closed-missing")
    assert "done" in (p.get_attribute(f"#order-list [data-order='{VEG}']", "class") or "")
    accessible(p, "closed", size)


def _sign(p: Any) -> None:
    """The driver signs with a finger (pointer events on the canvas)."""
    box = p.locator("#signature").bounding_box()
    assert box is not None
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    p.mouse.move(x, y)
    p.mouse.down()
    for i in range(1, 12):
        p.mouse.move(x + i * box["width"] / 14, y - (i % 3) * box["height"] / 6)
    p.mouse.up()


def test_the_busiest_weigh_screen_fits_800x480(served: tuple[str, Station],
                                              journal: Journal) -> None:
    """Chilled meat: sensory checklist, temperature on the keypad, a 3-digit weight; then
    counted milk with − / ＋. Everything needed is on the one screen, nothing wraps."""
    url, wf = served
    with page(800, 480, touch=True) as p:
        errors = ConsoleErrors(p)
        p.goto(url + "/")
        sign_in(p, "zhang", "li")
        press(p, f"#order-list [data-order='{MEAT}']")
        p.wait_for_selector("#lines [data-line='1']")
        assert wf.handle(SelectLine("9")).refused is not None  # as a scan's input would be
        p.wait_for_selector("#toast:has-text('订单上没有第 9 行')")  # shown, though no tap asked
        press(p, "#lines [data-line='1']")
        p.wait_for_selector("#sensory-items li[data-item='odour']")
        wf.handle(Reading(Weight(net_g=112350, stable=True, raw="ST,+112.350  kg")))
        p.wait_for_selector("#weight:has-text('112.35 公斤')")
        wraps = p.evaluate("""(() => { const w = document.getElementById('weight');
            return [w.scrollWidth > w.clientWidth, w.getClientRects().length,
                    w.offsetHeight > 1.6 * parseFloat(getComputedStyle(w).fontSize)]; })()""")
        assert wraps == [False, 1, False], wraps
        for key in ("#weight", "#band", "#temperature", "#sensory-all-ok", "#confirm",
                    "#sensory-items li[data-item='refrozen'] button[data-found='true']"):
            in_view(p, key)
        accessible(p, "weigh-meat", (800, 480))
        press(p, "#temperature")
        for key in ("#keypad [data-key='-']", "#keypad-ok"):
            in_view(p, key)
        keypad_taps(p, "2.5")
        p.wait_for_selector("#temperature:has-text('2.5 ℃')")
        press(p, "#sensory-all-ok")
        p.wait_for_selector("#sensory-items li[data-item='odour'] button.on.ok")
        press(p, "#pick-line")  # the wrong line was tapped: back to the tiles
        press(p, "#lines [data-line='3']")  # 纯牛奶, counted by the box
        p.wait_for_selector("#pieces-row:not([hidden])")
        for _ in range(3):
            press(p, "#pieces-plus")
        p.wait_for_selector("#pieces:has-text('3 箱')")
        press(p, "#pieces-minus")
        p.wait_for_selector("#pieces:has-text('2 箱')")
        in_view(p, "#pieces-plus")
        in_view(p, "#confirm")
        accessible(p, "weigh-counted", (800, 480))
        assert errors.errors == []


def keypad_taps(p: Page, text: str) -> None:
    p.wait_for_selector("#keypad:not([hidden])")
    for ch in text:
        press(p, f"#keypad [data-key='{ch}']" if ch != "-" else "#key-minus")
    press(p, "#keypad-ok")
