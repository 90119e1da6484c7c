"""The kiosk page in headless Chromium: sign in, accept one line, reject another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from edge.journal import Journal, read_events
from edge.workflow.driver import Workflow
from edge.workflow.model import Reading, Weight
from tests.browser import page, sign_in
from tests.conftest import ARTIFACTS
from tests.test_web_api import server, wf  # noqa: F401  (fixtures shared with the API tests)


@pytest.fixture
def browser_page() -> Iterator[Page]:
    with page() as p:
        yield p


def test_kiosk_accept_and_reject(server: str, wf: Workflow, journal: Journal,  # noqa: F811
                                 browser_page: Page) -> None:
    p = browser_page
    p.goto(server + "/")
    sign_in(p, "zhang", "li")
    p.click("button[data-order='PO-20261128-0012']")
    p.wait_for_selector("#lines [data-line='1']")
    p.click("#lines [data-line='1']")
    wf.handle(Reading(Weight(net_g=15200, stable=True, raw="S S 15.200 kg")))
    p.wait_for_selector("#stable.ok")
    p.click("#confirm")
    p.wait_for_selector(".decision.accepted:has-text('合格')")
    wf.handle(Reading(Weight(net_g=0, stable=True)))  # item taken off: next placement
    p.wait_for_selector(".decision", state="hidden")
    assert "已验收" in p.inner_text("#lines-done [data-line='1']")
    p.click("#lines [data-line='2']")
    wf.handle(Reading(Weight(net_g=27000, stable=True)))
    p.wait_for_selector("#weight:has-text('27 公斤')")
    p.click("#confirm")
    p.wait_for_selector(".decision.rejected")
    text = p.inner_text("#decision")
    assert "超重 0.75 公斤" in text and "请取出多余部分后重称" in text
    assert "允许 24.25 公斤–26.25 公斤" in text
    assert "重量超出订单上限 5%：实收 27 公斤，订单 25 公斤" in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "kiosk-rejection.png"))
    assert p.is_hidden("#scale-lost")
    wf.scale.link(False)  # the scale's cable is pulled: greyed weight, full-width warning
    p.wait_for_selector("#scale-lost:has-text('秤已断开')", timeout=2000)
    assert "stale" in (p.get_attribute("#weight", "class") or "")
    assert "稳定" not in p.inner_text("#stable")
    p.screenshot(path=str(ARTIFACTS / "kiosk-scale-lost.png"))
    p.click("#decision")  # a tap dismisses the rejection (else it covers the page for 6 s)
    p.wait_for_selector("#decision", state="hidden")
    assert "本件：超重 0.75 公斤" in p.inner_text("#last-banner")  # what stays on screen of it
    p.click("#inspectors [data-inspector='li'] button")  # 李娜 signs out
    p.wait_for_selector("#inspectors:not(:has-text('李娜'))")
    assert "张伟" in p.inner_text("#inspectors")
    types = [e["type"] for e in read_events(journal.db)]
    assert types == ["inspector.signed_in", "inspector.signed_in", "delivery.opened",
                     "placement.started", "line.accepted", "placement.ended",
                     "placement.started", "line.rejected", "inspector.signed_out"]
