"""Fetching orders from the central API (docs/contract.md §1) with ETag, timeouts and retries.

Retries with backoff come from urllib3's ``Retry`` mounted on the session (a
well-kept mechanism, not a hand loop). Only the HTTP exchange lives here; what
to do with the answer is ``refresh``'s business.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests

from core import log
from edge.journal import Journal
from edge.orders import store
from edge.orders.model import OrdersRefused, load_json, validate_orders

logger = logging.getLogger("edge.orders")


class FetchError(Exception):
    """The central API could not be reached or answered with an error status."""


@dataclass(frozen=True)
class FetchResult:
    status: str  # "not-modified" | "ok"
    etag: str | None
    body: bytes


def fetch(session: requests.Session, api_url: str, station_id: str, day: str,
          etag: str | None, timeout_s: float) -> FetchResult:
    url = f"{api_url.rstrip('/')}/v1/stations/{station_id}/orders"
    return get_document(session, url, {"delivery_date": day}, etag, timeout_s)


def get_document(session: requests.Session, url: str, params: dict[str, str],
                 etag: str | None, timeout_s: float) -> FetchResult:
    """GET a document of the central API with ``If-None-Match``; FetchError when it fails."""
    headers = {"If-None-Match": etag} if etag else {}
    try:
        r = session.get(url, params=params, headers=headers, timeout=timeout_s)
    except requests.RequestException as exc:
        raise FetchError(f"GET {url}: {exc.__class__.__name__}: {exc}") from exc
    if r.status_code == 304:
        return FetchResult("not-modified", etag, b"")
    if r.status_code != 200:
        query = "".join(f"?{k}={v}" for k, v in params.items())
        raise FetchError(f"GET {url}{query}: HTTP {r.status_code}")
    return FetchResult("ok", r.headers.get("ETag"), r.content)


def parse_body(body: bytes, station_id: str, day: str) -> dict[str, Any]:
    try:
        doc = load_json(body)
    except ValueError as exc:  # core.jsonsafe: not UTF-8, not JSON, NaN, too deep, too big
        raise OrdersRefused(f"not acceptable JSON: {exc}") from exc
    return validate_orders(doc, station_id=station_id, delivery_date=day)


def refresh(journal: Journal, session: requests.Session, api_url: str, day: str,
            timeout_s: float) -> str:
    """Fetch one date's orders and adopt them if new: 'unchanged', 'loaded',
    'refused' or 'error'. Never raises for network or document problems."""
    etag = store.stored_etag(journal.db, day)
    try:
        res = fetch(session, api_url, journal.station_id, day, etag, timeout_s)
    except FetchError as exc:
        log.kv(logger, logging.WARNING, "orders fetch failed", delivery_date=day, error=str(exc))
        return "error"
    if res.status == "not-modified":
        return "unchanged"
    try:
        doc = parse_body(res.body, journal.station_id, day)
    except OrdersRefused as exc:
        store.refuse(journal, day, res.body, str(exc), source=api_url)
        return "refused"
    seq = store.adopt(journal, doc, etag=res.etag, source=api_url)
    return "unchanged" if seq is None else "loaded"
