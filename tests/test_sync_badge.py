"""The kiosk's sync badge's wording is a pure function of the uplink's facts, checked case by case.

That the badge tells the uplink's real state (a real mosquitto killed under the whole demo
system, the badge on the kiosk page offline within 5 s and connected again within 5 s of the
broker's return) is tested in tests/test_demo_browser.py, on the demo system that module shares.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.sync_badge import sync_badge

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
