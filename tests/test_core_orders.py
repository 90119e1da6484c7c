"""Orders over a real local HTTP server: ETag, refusal of bad documents, last good copy."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.http import make_session
from edge.journal import Journal, read_events
from edge.orders import store
from edge.orders.fetch import refresh
from edge.orders.model import OrdersRefused, validate_orders
from testbed.demo_data import demo_orders
from tests.cli_inproc import run_cli
from tests.factories import write_station_config

STATION = "test-station-01"
DAY = "2026-11-29"


class OrdersServer:
    """Serves one body per date with an ETag; counts requests and 304s."""

    def __init__(self) -> None:
        self.body = b""
        self.etag = '"v1"'
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append({"path": self.path,
                                       "inm": self.headers.get("If-None-Match")})
                if outer.fail_next:
                    outer.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                if self.headers.get("If-None-Match") == outer.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", outer.etag)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, doc: Any, etag: str) -> None:
        self.body = json.dumps(doc, ensure_ascii=False).encode()
        self.etag = etag


@pytest.fixture
def server() -> Iterator[OrdersServer]:
    s = OrdersServer()
    yield s
    s.httpd.shutdown()


def _loaded(j: Journal) -> list[dict[str, Any]]:
    return list(read_events(j.db, types=("orders.loaded",)))


def test_fetch_etag_and_refusal(server: OrdersServer, journal: Journal) -> None:
    session = make_session(retries=2)
    doc = demo_orders(STATION, DAY)
    server.serve(doc, '"v1"')
    assert refresh(journal, session, server.url, DAY, 5) == "loaded"
    assert server.requests[-1]["path"] == f"/v1/stations/{STATION}/orders?delivery_date={DAY}"
    assert refresh(journal, session, server.url, DAY, 5) == "unchanged"
    assert server.requests[-1]["inm"] == '"v1"'
    assert len(_loaded(journal)) == 1
    ev = _loaded(journal)[0]["body"]
    assert ev["etag"] == '"v1"' and ev["counts"] == {"orders": 5, "lines": 19, "suppliers": 5}

    bad = copy.deepcopy(doc)
    bad["orders"][0]["lines"][0]["quantity"]["value"] = 30.5  # a float: schema violation
    server.serve(bad, '"v2"')
    assert refresh(journal, session, server.url, DAY, 5) == "refused"
    assert refresh(journal, session, server.url, DAY, 5) == "refused"
    alerts = list(read_events(journal.db, types=("alert.raised",)))
    assert len(alerts) == 1 and alerts[0]["body"]["code"] == "ORDERS_REFUSED"
    assert "quantity.value" in alerts[0]["body"]["message"]
    assert store.doc_in_use(journal.db, DAY) == doc  # last good copy stays

    newer = copy.deepcopy(doc)
    newer["orders"][0]["lines"][0]["quantity"]["value"] = "32"
    server.serve(newer, '"v3"')
    assert refresh(journal, session, server.url, DAY, 5) == "loaded"
    assert store.doc_in_use(journal.db, DAY) == newer
    assert store.orders_in_use(journal.db, DAY)[doc["orders"][0]["order_id"]].lines[0].qty_value \
        == 32


def test_retries_then_succeeds(server: OrdersServer, journal: Journal) -> None:
    server.serve(demo_orders(STATION, DAY), '"v1"')
    server.fail_next = 2
    assert refresh(journal, make_session(retries=3), server.url, DAY, 5) == "loaded"
    assert len(server.requests) == 3


def test_unreachable_is_an_error_not_a_crash(journal: Journal) -> None:
    assert refresh(journal, make_session(retries=0), "http://127.0.0.1:9", DAY, 1) == "error"
    assert journal.last_seq() == 0


def test_wrong_station_or_date_refused(server: OrdersServer, journal: Journal) -> None:
    server.serve(demo_orders("other-station", DAY), '"x"')
    assert refresh(journal, make_session(0), server.url, DAY, 5) == "refused"
    server.serve(demo_orders(STATION, "2026-12-01"), '"y"')
    assert refresh(journal, make_session(0), server.url, DAY, 5) == "refused"
    assert store.doc_in_use(journal.db, DAY) is None


@pytest.mark.parametrize("mutate,where", [
    (lambda d: d["orders"][0].pop("supplier"), "supplier"),
    (lambda d: d["orders"][0]["lines"][0].update(storage="warm"), "storage"),
    (lambda d: d["orders"][0]["lines"].append(d["orders"][0]["lines"][0]), "duplicate line id"),
    (lambda d: d["orders"][0]["window"].update({"from": "10:00", "to": "09:00"}), "window"),
    (lambda d: d["orders"][0]["lines"][0]["quantity"].update(unit="dozen"), "unit"),
    (lambda d: d.update(extra=1), "extra"),
])
def test_bad_documents_named(mutate: Any, where: str) -> None:
    doc = demo_orders(STATION, DAY)
    mutate(doc)
    with pytest.raises(OrdersRefused, match=where):
        validate_orders(doc)


def test_import_cli(tmp_path: Path) -> None:
    cfg = write_station_config(tmp_path, STATION)
    run_cli("keys", "init", "--config", str(cfg)).check_returncode()
    good = tmp_path / "orders.json"
    good.write_text(json.dumps(demo_orders(STATION, DAY), ensure_ascii=False))
    r = run_cli("orders", "import", str(good), "--config", str(cfg))
    assert r.returncode == 0 and "loaded" in r.stdout, r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "acceptance.orders/1"}')
    r = run_cli("orders", "import", str(bad), "--config", str(cfg))
    assert r.returncode == 2 and "unchanged" in r.stderr and "station_id" in r.stderr
    r = run_cli("orders", "import", str(good), "--config", str(cfg))
    assert r.returncode == 0 and "already in use" in r.stdout
    r = run_cli("verify", "--db", str(tmp_path / "data/station.db"))
    assert r.returncode == 0 and "1 events" in r.stdout
