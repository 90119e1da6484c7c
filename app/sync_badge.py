"""The kiosk's sync badge from the uplink's own facts: what the link really is now.

Pure: ``sync_badge`` takes the uplink's ``sync_state`` facts (``link`` and
``uplink``, written by the uplink process), the backlog and the time of the
oldest event central has not stored, and the current time. The uplink refreshes
its ``link`` fact every second, so a fact older than ``STALE_S`` means no uplink
is running: that is offline too, never "connected".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

STALE_S = 4.0  # the uplink refreshes its link fact each second
REFUSED_TEXT = {"refused": "被拒绝", "rejected": "中心拒收"}


def _age_s(at: Any, now: datetime) -> float | None:
    try:
        return (now - datetime.fromisoformat(str(at).replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return None


def age_text(seconds: float) -> str:
    """A backlog's age as staff say it: 刚刚, 5 分钟, 2 小时, 3 天."""
    if seconds < 60:
        return "不到 1 分钟"
    if seconds < 3600:
        return f"{int(seconds // 60)} 分钟"
    if seconds < 86400:
        return f"{int(seconds // 3600)} 小时"
    return f"{int(seconds // 86400)} 天"


def sync_badge(facts: dict[str, Any], backlog: int, oldest_at: str | None,
               now: datetime) -> dict[str, Any]:
    """``{"ok", "text", "state", "backlog", "backlog_age_s"}`` for the kiosk's 同步 chip.

    ``state`` is ``connected``, ``reconnecting`` (a connection attempt is under way),
    ``offline`` (the broker link is down, or no uplink is running) or ``refused``
    (connected, but the broker or central refuses what it sends).
    """
    link = facts.get("link")
    up = str((facts.get("uplink") or {}).get("state", ""))
    age = None if oldest_at is None or backlog == 0 else _age_s(oldest_at, now)
    waiting = "" if backlog == 0 else f" · 待传 {backlog} 条" + (
        "" if age is None else f"（最早 {age_text(max(0.0, age))}前）")
    seen = None if not isinstance(link, dict) else _age_s(link.get("at"), now)
    if not isinstance(link, dict) or seen is None or seen > STALE_S:
        state, text = "offline", "离线 · 同步程序未运行"
    elif link.get("connected"):
        if up in REFUSED_TEXT:
            state, text = "refused", REFUSED_TEXT[up]
        else:
            state, text = "connected", "已连接"
    elif link.get("connecting"):
        state, text = "reconnecting", "重连中"
    else:
        state, text = "offline", "离线 · 正在重连"
    return {"ok": state == "connected", "text": text + waiting, "state": state,
            "backlog": backlog, "backlog_age_s": None if age is None else int(age)}
