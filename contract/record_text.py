"""A decided line as people read it: the words the hall screen and central's public pages share.

Pure functions over a ``line.accepted`` / ``line.rejected`` body. They never show
an id, a barcode number or a phone number: the hall is watched by students and
the public pages are open to anyone; inspectors appear by name only.
"""

from __future__ import annotations

from typing import Any

from contract.quantity import received_text
from contract.reasons import REASONS

OUTCOME_ZH = {"line.accepted": "验收合格", "line.rejected": "拒收"}


def item_text(body: dict[str, Any]) -> str:
    """The ordered item's name; a wrong item by what it is; an unknown one without its code."""
    item = body.get("item") or {}
    if item.get("name"):
        return str(item["name"])
    delivered = body.get("delivered_item") or {}
    if delivered.get("name"):
        return f"{delivered['name']}（非本订单货品）"
    return "未识别货品"


def supplier_text(body: dict[str, Any]) -> str:
    return str((body.get("supplier") or {}).get("name") or "—")


def quantity_text(body: dict[str, Any]) -> str:
    return received_text(body.get("measured") or {}, body.get("ordered"))


def reason_labels(body: dict[str, Any]) -> list[str]:
    """The reasons in Chinese; an unknown code (a newer station) as 其他原因, never the code."""
    return [REASONS[r][1] if r in REASONS else "其他原因" for r in body.get("reasons") or []]


def inspector_names(body: dict[str, Any]) -> list[str]:
    """Who inspected, by name; records from before the roster carry ids only and show none."""
    return [str(n) for n in body.get("inspector_names") or []]


RECORD_PATH = "/public/records/{station_id}/{event_id}"


def check_public_base_url(url: str) -> str:
    """``https://host[:port][/prefix]`` without a trailing slash; plain http only on loopback (demo)."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    if u.scheme == "http" and u.hostname in ("127.0.0.1", "localhost", "::1"):
        pass
    elif u.scheme != "https" or not u.hostname:
        raise ValueError("must be an https:// URL (plain http only on 127.0.0.1/localhost, for the demo)")
    if u.query or u.fragment or u.username or u.password:
        raise ValueError("must have no query, fragment or credentials")
    if len(url) > 200:
        raise ValueError("must be at most 200 characters (it goes into every hall QR code)")
    return url.rstrip("/")


def record_url(base_url: str, station_id: str, event_id: str) -> str:
    """The public record page of one event at central: what the hall's QR code carries."""
    return base_url.rstrip("/") + RECORD_PATH.format(station_id=station_id, event_id=event_id)
