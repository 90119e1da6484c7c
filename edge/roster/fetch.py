"""Fetching the station's roster from the central API (docs/contract.md §1), like orders.

``GET {api}/v1/stations/{station_id}/roster`` with ``If-None-Match``; the
uplink caches a valid answer (``store.store_fetched``) and the station adopts
it. A refused answer is recorded by its sha256 and the last good copy stays.
"""

from __future__ import annotations

import json
import logging
import sqlite3

import requests

from core import log
from edge.orders.fetch import FetchError, get_document
from edge.roster import store
from edge.roster.model import RosterRefused, validate_roster

logger = logging.getLogger("edge.roster")


def fetch_roster(db: sqlite3.Connection, session: requests.Session, api_url: str,
                 station_id: str, timeout_s: float) -> str:
    """One fetch: 'unchanged', 'cached', 'refused' or 'error' (never raises for those)."""
    url = f"{api_url.rstrip('/')}/v1/stations/{station_id}/roster"
    try:
        res = get_document(session, url, {}, store.stored_etag(db), timeout_s)
    except FetchError as exc:
        log.kv(logger, logging.WARNING, "roster fetch failed", error=str(exc))
        return "error"
    if res.status == "not-modified":
        return "unchanged"
    try:
        doc = validate_roster(json.loads(res.body.decode("utf-8")), station_id=station_id)
    except (UnicodeDecodeError, ValueError) as exc:  # RosterRefused is a ValueError
        store.store_fetched(db, None, None, refused_body=res.body)
        log.kv(logger, logging.WARNING, "roster refused", reason=str(exc)[:500])
        return "refused"
    store.store_fetched(db, doc, res.etag)
    log.kv(logger, logging.INFO, "roster cached", inspectors=len(doc["inspectors"]))
    return "cached"


__all__ = ["RosterRefused", "fetch_roster"]
