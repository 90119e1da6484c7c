"""The station API: bad requests refused with a message and no change; one accept per placement."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from edge.journal import Journal, read_events
from edge.matching.types import Policy
from edge.orders.model import orders_from_doc
from edge.web.app import create_app
from edge.web.guard import TOKEN_HEADER, Access
from edge.workflow.driver import Workflow
from edge.workflow.model import Reading, Weight
from testbed.demo_data import PINS, demo_orders
from testbed.kiosk_client import kiosk_session, token_from_page
from tests.test_workflow import ROSTER
from tests.web_helpers import serving

ORDERS = orders_from_doc(demo_orders("test-station-01", "2026-11-28"))
VEG = "PO-20261128-0012"
POLICY = Policy()
NOW = datetime(2026, 11, 28, 6, 45, tzinfo=POLICY.tz)
DEVICES = {"scale": {"ok": True, "text": "已连接"}}
PID = "0b7e4bde-4c5e-4f0a-9d35-7f7f52a1c001"  # a placement id that is not the current one


@pytest.fixture
def wf(journal: Journal) -> Workflow:
    # Readings are handed in by the test: kept fresh for a minute (freshness: test_evidence).
    return Workflow(journal, lambda: ORDERS, POLICY, now=lambda: NOW, max_weight_age_s=60,
                    roster=lambda: ROSTER)


KIOSK = "http://127.0.0.1:8080"


def kiosk_client(app: Any) -> TestClient:
    """A client that, like the kiosk page, carries the token of the page the app serves
    (``app`` made with ``access=Access(port=8080)``)."""
    c = TestClient(app, base_url=KIOSK)
    c.headers[TOKEN_HEADER] = token_from_page(c.get("/").text)
    return c


@pytest.fixture
def client(wf: Workflow) -> TestClient:
    return kiosk_client(create_app(wf, lambda: ORDERS, lambda: DEVICES, access=Access(port=8080)))


def _ready(client: TestClient, wf: Workflow) -> None:
    for i in ("zhang", "li"):
        assert client.post("/api/inspectors", json={"inspector_id": i, "pin": PINS[i]}).status_code == 200
    assert client.post("/api/deliveries", json={"order_id": VEG}).status_code == 200
    assert client.post("/api/placement/line", json={"line_id": "1"}).status_code == 200
    wf.handle(Reading(Weight(net_g=15900, stable=True, raw="S S 15.900 kg")))


def test_flow_reject_with_reason(client: TestClient, wf: Workflow, journal: Journal) -> None:
    _ready(client, wf)
    pid = client.get("/api/state").json()["placement"]["placement_id"]
    r = client.post("/api/confirm", json={"placement_id": pid})
    assert r.status_code == 200
    body = r.json()
    assert body["decision"]["outcome"] == "rejected"
    assert body["state"]["last"]["reasons"] == [{"code": "QTY_OVER", "label": "数量超出订单上限"}]
    assert body["state"]["weight"]["text"] == "31.8 斤"
    line = body["state"]["delivery"]["lines"][0]
    assert line["status"] == "rejected"
    assert [e["type"] for e in read_events(journal.db)][-1] == "line.rejected"


BAD = [
    ("/api/inspectors", {"inspector_id": ""}, 422, "inspector_id"),
    ("/api/inspectors", {"id": "x"}, 422, "extra_forbidden"),
    ("/api/inspectors", {"pin": "1111"}, 422, "inspector_id (with pin) or badge"),
    ("/api/inspectors", {"inspector_id": "zhang", "pin": "12"}, 422, "pin"),
    ("/api/inspectors", {"inspector_id": "nobody", "pin": "1111"}, 409, "不在本站验收人员名单中"),
    ("/api/inspectors", {"badge": "9999"}, 409, "不在本站验收人员名单中"),
    ("/api/deliveries", {"order_id": "PO-nope"}, 409, "今日订单中没有"),
    ("/api/placement/line", {"line_id": "1"}, 409, "请先打开送货单"),
    ("/api/placement/temperature", {"temperature_c": 4.5}, 422, "temperature_c"),
    ("/api/placement/temperature", {"temperature_c": "warm"}, 422, "temperature_c"),
    ("/api/placement/pieces", {"pieces": -1}, 422, "pieces"),
    ("/api/placement/scan", {"gtin": "12ab"}, 422, "gtin"),
    ("/api/confirm", {"placement_id": "x"}, 422, "placement_id"),
    ("/api/confirm", {"placement_id": 0}, 422, "placement_id"),
    ("/api/confirm", {"placement_id": PID, "extra": 1}, 422, "extra"),
    ("/api/confirm", {"placement_id": PID}, 409, "不在秤上"),
    ("/api/deliveries/current/close", {}, 409, "没有打开的送货单"),
]


@pytest.mark.parametrize("path,body,status,needle", BAD, ids=[f"{b[0]}-{b[2]}" for b in BAD])
def test_bad_requests_change_nothing(client: TestClient, journal: Journal, path: str,
                                     body: dict[str, Any], status: int, needle: str) -> None:
    before = client.get("/api/state").json()
    seq = journal.last_seq()
    r = client.post(path, json=body)
    assert r.status_code == status
    assert needle in r.text
    assert client.get("/api/state").json() == before
    assert journal.last_seq() == seq


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    for p in ("/api/state", "/api/stream", "/api/inspectors", "/api/deliveries", "/api/confirm",
              "/api/placement/line", "/api/placement/scan", "/api/placement/temperature",
              "/api/placement/pieces", "/api/placement/partial", "/api/scale/tare",
              "/api/deliveries/current/close", "/api/inspectors/{inspector_id}"):
        assert p in paths, p


def test_kiosk_page_served(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "食材验收" in r.text
    assert client.get("/static/kiosk.js").status_code == 200



@pytest.fixture
def server(wf: Workflow) -> Iterator[str]:
    with serving(lambda port: create_app(wf, lambda: ORDERS, lambda: DEVICES,
                                         access=Access(port=port),
                                         stream_interval_s=0.05)) as url:
        yield url


def test_concurrent_double_accept_records_one_event(server: str, wf: Workflow,
                                                    journal: Journal) -> None:
    s = kiosk_session(server)
    for i in ("zhang", "li"):
        s.post(server + "/api/inspectors", json={"inspector_id": i, "pin": PINS[i]}).raise_for_status()
    s.post(server + "/api/deliveries", json={"order_id": VEG}).raise_for_status()
    s.post(server + "/api/placement/line", json={"line_id": "1"}).raise_for_status()
    wf.handle(Reading(Weight(net_g=15000, stable=True)))
    pid = s.get(server + "/api/state").json()["placement"]["placement_id"]

    def tap(_: int) -> tuple[int, dict[str, Any]]:
        r = requests.post(server + "/api/confirm", json={"placement_id": pid},
                          headers=dict(s.headers), timeout=10)
        return r.status_code, r.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(tap, range(16)))
    (ev,) = read_events(journal.db, types=("line.accepted", "line.rejected"))
    assert [a[0] for a in answers] == [200] * 16
    assert sorted(a[1]["existing"] for a in answers) == [False] + [True] * 15
    assert {(a[1]["committed"]["seq"], a[1]["committed"]["event_id"]) for a in answers} == {
        (ev["seq"], ev["event_id"])}


def test_stream_pushes_changes(server: str) -> None:
    with requests.get(server + "/api/stream", stream=True, timeout=10) as r:
        lines = r.iter_lines(decode_unicode=True)
        first = json.loads(next(ln for ln in lines if ln.startswith("data: "))[6:])
        assert first["inspectors"] == []
        kiosk_session(server).post(server + "/api/inspectors", json={
            "inspector_id": "zhang", "pin": PINS["zhang"]}, timeout=5).raise_for_status()
        deadline = time.monotonic() + 10
        for ln in lines:  # a stream that ends, or goes on without the change, fails
            if ln.startswith("data: ") and json.loads(ln[6:])["inspectors"] == ["zhang"]:
                break
            if time.monotonic() > deadline:
                pytest.fail("no state with the new inspector on the stream within 10 s")
        else:
            pytest.fail("the stream ended without the state that has the new inspector")
