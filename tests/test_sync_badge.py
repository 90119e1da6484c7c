"""The kiosk's sync badge tells the uplink's real state: a real mosquitto is killed under the
whole demo system and the badge on the kiosk page (headless Chromium) turns offline within
5 s, then connected again within 5 s of the broker's return. The badge's wording is a pure
function of the uplink's facts, checked case by case."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.sync_badge import sync_badge
from testbed import broker as brokers
from testbed.demo import DemoSystem
from testbed.demo_script import Driver
from tests.browser import page
from tests.conftest import ARTIFACTS

NOW = datetime(2026, 11, 28, 6, 45, tzinfo=UTC)


def at(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat()


@pytest.mark.parametrize("facts,backlog,oldest,state,text", [
    ({}, 0, None, "offline", "离线 · 同步程序未运行"),
    ({"link": {"connected": True, "at": at(1)}, "uplink": {"state": "ok"}}, 0, None,
     "connected", "已连接"),
    ({"link": {"connected": True, "at": at(9)}, "uplink": {"state": "ok"}}, 3, at(60),
     "offline", "离线 · 同步程序未运行 · 待传 3 条（最早 1 分钟前）"),
    ({"link": {"connected": False, "connecting": False, "at": at(0.5)},
      "uplink": {"state": "ok"}}, 12, at(3 * 3600 + 5), "offline",
     "离线 · 正在重连 · 待传 12 条（最早 3 小时前）"),
    ({"link": {"connected": False, "connecting": True, "at": at(0.5)}}, 1, at(20),
     "reconnecting", "重连中 · 待传 1 条（最早 不到 1 分钟前）"),
    ({"link": {"connected": True, "at": at(0.5)}, "uplink": {"state": "rejected"}}, 4, at(7200),
     "refused", "中心拒收 · 待传 4 条（最早 2 小时前）"),
])
def test_badge_wording(facts: dict[str, object], backlog: int, oldest: str | None, state: str,
                       text: str) -> None:
    badge = sync_badge(facts, backlog, oldest, NOW)
    assert (badge["state"], badge["text"]) == (state, text)
    assert badge["ok"] is (state == "connected") and badge["backlog"] == backlog


@pytest.fixture
def system(tmp_path: Path) -> Iterator[DemoSystem]:
    if not brokers.available():
        pytest.skip("mosquitto is not installed (scripts/setup.sh installs it)")
    s = DemoSystem(tmp_path / "demo", 0)
    s.start()
    yield s
    s.stop()


def test_badge_follows_a_killed_broker(system: DemoSystem) -> None:
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
