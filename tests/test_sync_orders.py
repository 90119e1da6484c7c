"""Central's orders API (ETags) and the uplink's scheduled fetch, adopted by the station."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.config import StationConfig
from app.orders_sync import OrdersFetcher, fetch_once, local_days
from central.api import serve_in_thread
from edge.journal import Journal, read_events
from edge.orders import store
from testbed.demo_data import demo_orders
from tests.factories import station_config
from tests.sync_harness import central_http, station_token
from tests.waiting import wait_until

SID = "st-orders-01"
DAY = "2026-11-29"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cfg, url = central_http(tmp_path)
    (cfg.http.orders_dir / SID).mkdir(parents=True)
    station_token(cfg, SID, tmp_path)  # tmp_path/<SID>.token, named by station_cfg
    server = serve_in_thread(cfg)
    yield url, cfg.http.orders_dir / SID
    server.shutdown()


def auth(tmp_path: Path) -> dict[str, str]:
    return {"Authorization": "Bearer " + (tmp_path / f"{SID}.token").read_text().strip()}


def put_doc(folder: Path, day: str, doc: dict[str, object]) -> None:
    (folder / f"{day}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def station_cfg(tmp_path: Path, api_url: str) -> StationConfig:
    return station_config(tmp_path / "st", SID, station={"school_id": "sch-001",
                                                        "data_dir": str(tmp_path / "st")},
                          orders={"api_url": api_url, "timeout_s": 2.0, "retries": 0,
                                  "refresh_minutes": 60,
                                  "token_file": str(tmp_path / f"{SID}.token")})


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "st" / "station.db", Ed25519PrivateKey.generate(), SID)
    yield j
    j.close()


def test_orders_api_serves_documents_with_etags(tmp_path: Path, api: tuple[str, Path]) -> None:
    url, folder = api
    h = auth(tmp_path)
    put_doc(folder, DAY, demo_orders(SID, DAY))
    r = requests.get(f"{url}/v1/stations/{SID}/orders", params={"delivery_date": DAY}, headers=h, timeout=5)
    assert r.status_code == 200 and r.json()["delivery_date"] == DAY
    etag = r.headers["ETag"]
    r2 = requests.get(f"{url}/v1/stations/{SID}/orders", params={"delivery_date": DAY},
                      headers={**h, "If-None-Match": etag}, timeout=5)
    assert r2.status_code == 304 and r2.content == b""
    put_doc(folder, DAY, demo_orders(SID, DAY) | {"orders": []})
    r3 = requests.get(f"{url}/v1/stations/{SID}/orders", params={"delivery_date": DAY},
                      headers={**h, "If-None-Match": etag}, timeout=5)
    assert r3.status_code == 200 and r3.headers["ETag"] != etag
    assert requests.get(f"{url}/v1/stations/{SID}/orders", params={"delivery_date": "2026-12-31"},
                        headers=h, timeout=5).status_code == 404
    assert requests.get(f"{url}/v1/stations/{SID}/orders", params={"delivery_date": "tomorrow"},
                        headers=h, timeout=5).status_code == 400
    assert requests.get(f"{url}/v1/stations/../etc/orders", headers=h, timeout=5).status_code == 404
    menu = tmp_path / "menus" / "sch-001"
    menu.mkdir(parents=True)
    (menu / f"{DAY}.json").write_text('{"date": "2026-11-29", "meals": []}')
    menu_doc = requests.get(f"{url}/v1/schools/sch-001/menu", params={"date": DAY}, headers=h,
                            timeout=5).json()
    assert menu_doc["meals"] == []


def test_uplink_caches_orders_and_the_station_adopts_them(tmp_path: Path, api: tuple[str, Path],
                                                          station: Journal) -> None:
    url, folder = api
    cfg = station_cfg(tmp_path, url)
    put_doc(folder, DAY, demo_orders(SID, DAY))
    assert fetch_once(cfg, [DAY, "2026-11-30"]) == {DAY: "cached", "2026-11-30": "error"}
    assert [e["type"] for e in read_events(station.db)] == []  # the uplink appends nothing
    seq = store.adopt_pending(station, DAY)
    loaded = list(read_events(station.db, types=("orders.loaded",)))
    assert seq == loaded[-1]["seq"] and loaded[-1]["body"]["source"] == "uplink"
    assert store.sha_in_use(station.db, DAY) == store.doc_sha256(demo_orders(SID, DAY))
    assert fetch_once(cfg, [DAY]) == {DAY: "unchanged"}  # ETag → 304
    assert store.adopt_pending(station, DAY) is None  # nothing new to adopt
    # A changed document is fetched and adopted once.
    changed = demo_orders(SID, DAY)
    changed["orders"] = changed["orders"][:1]
    put_doc(folder, DAY, changed)
    assert fetch_once(cfg, [DAY]) == {DAY: "cached"}
    assert store.adopt_pending(station, DAY) is not None
    assert store.orders_in_use(station.db, DAY).keys() == {changed["orders"][0]["order_id"]}


def test_refused_document_keeps_the_good_copy_and_alerts_once(tmp_path: Path, api: tuple[str, Path],
                                                              station: Journal) -> None:
    url, folder = api
    cfg = station_cfg(tmp_path, url)
    put_doc(folder, DAY, demo_orders(SID, DAY))
    fetch_once(cfg, [DAY])
    store.adopt_pending(station, DAY)
    good = store.sha_in_use(station.db, DAY)
    put_doc(folder, DAY, demo_orders("st-someone-else", DAY))  # wrong station: refused whole
    assert fetch_once(cfg, [DAY]) == {DAY: "refused"}
    store.adopt_pending(station, DAY)
    store.adopt_pending(station, DAY)
    alerts = list(read_events(station.db, types=("alert.raised",)))
    assert [a["body"]["code"] for a in alerts] == ["ORDERS_REFUSED"]
    assert store.sha_in_use(station.db, DAY) == good


def test_orders_refresh_command_triggers_a_fetch(tmp_path: Path, api: tuple[str, Path],
                                                 station: Journal) -> None:
    from app.sync_cli import build_uplink

    url, folder = api
    cfg = station_cfg(tmp_path, url)
    today, tomorrow = local_days(cfg.station.timezone)
    put_doc(folder, today, demo_orders(SID, today))
    stop, trigger, results = threading.Event(), threading.Event(), {}
    uplink = build_uplink(cfg, orders_trigger=trigger)
    fetcher = OrdersFetcher(cfg, stop, trigger, results, uplink.orders_days)
    fetcher.start()
    try:
        wait_until(lambda: results.get(today) == "cached", 20, "the first scheduled fetch")
        put_doc(folder, tomorrow, demo_orders(SID, tomorrow))
        uplink.on_command({"schema": "acceptance.command/1", "command_id": "c9",
                           "command": "orders.refresh"})
        wait_until(lambda: results.get(tomorrow) == "cached", 20, "the commanded fetch")
        put_doc(folder, "2026-12-24", demo_orders(SID, "2026-12-24"))
        uplink.on_command({"schema": "acceptance.command/1", "command_id": "c10",
                           "command": "orders.refresh", "delivery_date": "2026-12-24"})
        wait_until(lambda: results.get("2026-12-24") == "cached", 20, "the commanded date")
    finally:
        fetcher.stop(10)
    assert not fetcher.is_alive()
    assert store.adopt_pending(station, tomorrow) is not None
