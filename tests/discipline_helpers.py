"""Warnings and documents for the discipline loop's tests."""

from __future__ import annotations

from central.platform import warnings as warning_table
from central.platform.model import Finding
from central.store import Store

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def add_warning(store: Store, school: str, key: str, *, station: str = "st-a",
                indicator: str = "price_above_order", events: list[dict[str, object]] | None = None,
                day: str = "2026-11-30") -> str:
    """Store one warning of ``school``; its id."""
    f = Finding(indicator, station, school, day, key, f"crafted warning {key}", {"events": events or []})
    warning_table.ensure_tables(store)
    warning_table.record(store, [f])
    return f.warning_id
