"""End to end in headless Chromium on the whole demo system: scale simulator, camera, central.

One demo system serves the module: starting one (a private mosquitto, central's processes, the
uplink, the station) costs ~10 s and a few CPU-seconds, and the two tests use it in turn. The
morning comes first and checks exactly the events it made; the sync badge's test only kills and
restarts the broker, which the morning (already synced) does not need any more.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from central.web.accounts import ROLES
from edge.journal import read_events
from testbed import broker as brokers
from testbed.demo import DemoSystem
from testbed.demo_script import Driver, wait_synced
from testbed.demo_web import banner
from tests.browser import page, sign_in
from tests.conftest import ARTIFACTS


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSystem]:
    s = DemoSystem(tmp_path_factory.mktemp("demo") / "demo", 0)
    s.start()
    yield s
    s.stop()


def test_kiosk_on_the_whole_system(system: DemoSystem) -> None:
    world = Driver(system)
    world.wait(lambda s: len(s["orders"]) >= 5 and s["devices"]["scale"]["ok"], "orders and scale",
               timeout=60)
    with page() as p:
        _morning_in_the_browser(p, world)
    types = [e["type"] for e in read_events(system.station.journal.db,
                                            types=("line.accepted", "line.rejected"))]
    assert types == ["line.accepted", "line.rejected", "line.rejected"]
    closed = list(read_events(system.station.journal.db, types=("delivery.closed",)))
    assert [m["line_id"] for m in closed[-1]["body"]["lines_not_delivered"]] == ["2", "3", "4"]
    synced = wait_synced(system, "demo-station-01")
    assert synced["ok"], synced["summary"]
    # What the interactive demo prints about central's web app: each role's account and the pages.
    shown = banner(system.central_url, system.logins)
    assert sorted(x.role for x in system.logins) == sorted(ROLES)
    for x in system.logins:
        assert f"{x.username:<16} {x.password}  {x.role}" in shown
    for path in ("/web/login", "/web/fleet", "/public/schools/"):
        assert system.central_url + path in shown


def test_sync_badge_follows_a_killed_broker(system: DemoSystem) -> None:
    """The kiosk's sync badge tells the uplink's real state: the demo's real mosquitto is killed
    and the badge turns offline within 5 s, then connected again within 5 s of the broker's
    return (its wording case by case: tests/test_sync_badge.py)."""
    if not brokers.available():
        pytest.skip("mosquitto is not installed (scripts/setup.sh installs it)")
    Driver(system).wait(lambda s: s["devices"].get("sync", {}).get("state") == "connected",
                        "uplink connected", timeout=60)
    chip = "footer [data-device='sync']"
    with page(1024, 600) as p:
        p.goto(system.url + "/")
        p.wait_for_selector(f"{chip}[data-state='connected']:has-text('同步：已连接')")
        system.broker.kill()
        killed = time.monotonic()
        p.wait_for_selector(f"{chip}[data-state='offline']", timeout=5000)
        down_s = time.monotonic() - killed
        assert "离线" in p.inner_text(chip)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        p.screenshot(path=str(ARTIFACTS / "kiosk-sync-offline.png"))
        system.broker.start()
        back = time.monotonic()
        p.wait_for_selector(f"{chip}[data-state='connected']", timeout=5000)
        up_s = time.monotonic() - back
    print(f"sync badge: offline after {down_s:.1f} s, connected again after {up_s:.1f} s")


def _morning_in_the_browser(p: Page, world: Driver) -> None:
    p.goto(world.url + "/")
    sign_in(p, "zhang", "li")
    p.click("#order-list button[data-order$='-0012']")
    p.click("#lines [data-line='1']")
    p.wait_for_selector("#placement-line:has-text('上海青')")
    world.place(15200)
    p.wait_for_selector("#stable.ok")
    p.wait_for_selector("#weight:has-text('30.4 斤')")
    p.click("#confirm")
    p.wait_for_selector(".decision.accepted:has-text('合格')")

    world.clear()
    p.wait_for_selector(".decision", state="hidden")
    p.click("#lines [data-line='2']")
    world.place(27000)
    p.wait_for_selector("#stable.ok")
    p.click("#confirm")
    p.wait_for_selector(".decision.rejected")
    assert "重量超出订单上限 5%：实收 27 公斤，订单 25 公斤" in p.inner_text("#decision")

    world.clear()
    world.show(["(01)06901234511116(10)R2411"])  # a rice label: not on this order
    p.wait_for_selector("#placement-line[data-gtin='06901234511116']:has-text('不在订单上的货品')")
    assert _outlined(world.url), "the preview outlines the code in view"
    assert p.evaluate("document.getElementById('camera').naturalWidth") > 0
    world.place(25000)
    p.wait_for_selector("#stable.ok")
    p.click("#confirm")
    p.wait_for_selector(".decision.rejected:has-text('货品不在订单上')")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "kiosk-demo-system.png"))
    world.clear()
    p.wait_for_selector(".decision", state="hidden")
    p.click("#close-delivery")
    for _ in range(2):  # the driver acknowledges each rejection with his badge
        p.click("#rejection-list button")
        p.click("#dispose .choices button[data-disposition='returned']")
        p.fill("#driver-badge", "DRV-0031")
        p.click("#dispose-confirm")
        p.wait_for_selector("#dispose", state="hidden")
    p.wait_for_selector("#rejection-list:not(:has(button))")
    p.click("#close-confirm")
    p.wait_for_selector("#closed:has-text('拒收 2 项，未送达 2 项')")
    assert p.is_visible("#return-slip")
    assert "西红柿（订购 20000 克）" in p.inner_text("#closed-missing")
    assert "土豆：退回供应商" in p.inner_text("#closed-rejected")
    assert "不在订单上的货品：退回供应商" in p.inner_text("#closed-rejected")


def _outlined(url: str) -> bool:
    """The preview JPEG has the green outline drawn around a detected code."""
    import time

    import cv2
    import numpy as np
    import requests

    for _ in range(40):
        jpeg = requests.get(url + "/api/camera.jpg", timeout=5).content
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        b, g, r = img[..., 0].astype(int), img[..., 1].astype(int), img[..., 2].astype(int)
        if int(((g > 150) & (r < 90) & (b < 90)).sum()) > 100:
            return True
        time.sleep(0.1)
    return False
