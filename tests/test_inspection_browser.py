"""The kiosk page in headless Chromium, main path of issue 11: sign in by PIN, answer the
sensory checklist (a smell found: rejected), dispose of the rejected goods with the driver's
signature drawn on the screen, close the delivery and open the return slip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from edge.blobs import BlobStore
from edge.journal import Journal, read_events
from edge.web.app import create_app
from edge.web.guard import Access
from edge.workflow.driver import Workflow
from edge.workflow.model import Reading, Weight
from tests.browser import keypad, page, sign_in
from tests.conftest import ARTIFACTS
from tests.test_inspection_api import POLICY
from tests.test_workflow import NOW, ORDERS, ROSTER
from tests.web_helpers import serving


@pytest.fixture
def served(journal: Journal, tmp_path: Path) -> Iterator[tuple[str, Workflow]]:
    wf = Workflow(journal, lambda: ORDERS, POLICY, now=lambda: NOW, max_weight_age_s=1e9,
                  roster=lambda: ROSTER)
    with serving(lambda port: create_app(wf, lambda: ORDERS, lambda: {}, stream_interval_s=0.05,
                                         blobs=BlobStore(tmp_path / "blobs"),
                                         access=Access(port=port))) as url:
        yield url, wf


@pytest.fixture
def browser_page() -> Iterator[Page]:
    with page() as p:
        yield p


def test_sensory_rejection_disposed_with_a_signature(served: tuple[str, Workflow],
                                                     journal: Journal, browser_page: Page) -> None:
    url, wf = served
    p = browser_page
    p.goto(url + "/")
    sign_in(p, "zhang", "li")
    p.click("button[data-order='PO-20261128-0013']")
    p.click("#lines [data-line='1']")
    p.wait_for_selector("#sensory-items li[data-item='odour']")
    wf.handle(Reading(Weight(net_g=12100, stable=True, raw="ST,+012.100  kg", protocol="ad")))
    p.click("#temperature")
    keypad(p, "3")
    p.wait_for_selector("#temperature:has-text('3 ℃')")
    assert p.inner_text("#temp-source") == "手工输入"
    p.click("#confirm")
    p.wait_for_selector("#toast:has-text('请完成感官检查')")
    for item in ("spoiled", "foreign_matter", "refrozen"):
        p.click(f"#sensory-items li[data-item='{item}'] button[data-found='false']")
        p.wait_for_selector(f"#sensory-items li[data-item='{item}'] button.on.ok")
    p.click("#sensory-items li[data-item='odour'] button[data-found='true']")
    p.wait_for_selector("#sensory-items li[data-item='odour'] button.on.found")
    p.click("#confirm")
    p.wait_for_selector(".decision.rejected:has-text('感官检查发现异味')")

    assert p.inner_text("#decision-action") == "请退回供应商"
    wf.handle(Reading(Weight(net_g=0, stable=True)))  # the pork is taken off
    p.click("#close-delivery")
    p.wait_for_selector("#close-confirm:has-text('待处置')")
    assert p.is_disabled("#close-confirm")
    p.click("#rejection-list button")
    p.click("#dispose .choices button[data-disposition='returned']")
    box = p.locator("#signature").bounding_box()
    assert box is not None
    p.mouse.move(box["x"] + 30, box["y"] + 100)
    p.mouse.down()
    for i in range(1, 12):
        p.mouse.move(box["x"] + 30 + i * 35, box["y"] + 100 - (i % 3) * 25)
    p.mouse.up()
    p.click("#dispose-confirm")
    p.wait_for_selector("#rejection-list li:has-text('退回供应商（已确认）')")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "kiosk-disposition.png"))
    p.click("#close-confirm")
    p.wait_for_selector("#return-slip:visible")
    with p.context.expect_page() as slip_page:
        p.click("#return-slip")
    slip = slip_page.value
    slip.wait_for_selector("h1:has-text('退货单')")
    assert "司机签名" in slip.inner_text("body") and "感官检查：有异味" in slip.inner_text("body")
    assert slip.locator(".qr svg").count() == 1
    slip.screenshot(path=str(ARTIFACTS / "return-slip.png"))
    (disposed,) = read_events(journal.db, types=("rejection.disposed",))
    ack = disposed["body"]["acknowledged_by"]
    assert ack["method"] == "signature" and ack["signature_bytes"] > 500
