"""Where a value came from, through the station's HTTP API: typed or probe temperatures,
re-tests linked to the rejection they follow (with their alerts), trace codes kept apart."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from edge.codes.parse import parse_code
from edge.journal import Journal, read_events
from edge.web.app import create_app
from edge.web.guard import Access
from edge.workflow.driver import Workflow
from edge.workflow.model import Reading, SetTemperature, Weight
from edge.workflow.scans import input_for
from testbed.demo_data import PINS
from tests.test_web_api import ORDERS, POLICY, kiosk_client
from tests.test_workflow import MEAT, NOW, ROSTER, VEG

LINES = ("line.accepted", "line.rejected")


def _door(journal: Journal, order_id: str) -> tuple[TestClient, Workflow]:
    wf = Workflow(journal, lambda: ORDERS, POLICY, now=lambda: NOW, max_weight_age_s=60,
                  roster=lambda: ROSTER)
    client = kiosk_client(create_app(wf, lambda: ORDERS, lambda: {}, access=Access(port=8080)))
    for who in ("zhang", "li"):
        assert client.post("/api/inspectors", json={"inspector_id": who, "pin": PINS[who]}).status_code == 200
    assert client.post("/api/deliveries", json={"order_id": order_id}).status_code == 200
    return client, wf


def _pork(client: TestClient, wf: Workflow, temp: str | None) -> dict[str, Any]:
    wf.handle(Reading(Weight(net_g=0, stable=True)))  # the pan is emptied between items
    assert client.post("/api/placement/line", json={"line_id": "1"}).status_code == 200
    wf.handle(Reading(Weight(net_g=12100, stable=True, raw="ST,+012.100  kg", protocol="ad")))
    if temp is not None:
        assert client.post("/api/placement/temperature", json={"temperature_c": temp}).is_success
    pid = client.get("/api/state").json()["placement"]["placement_id"]
    r = client.post("/api/confirm", json={"placement_id": pid})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _alerts(journal: Journal) -> list[dict[str, Any]]:
    return [e for e in read_events(journal.db, types=("alert.raised",))]


def test_typed_temperature_turning_a_rejection_is_linked_and_alerted(journal: Journal) -> None:
    client, wf = _door(journal, MEAT)
    first = _pork(client, wf, "10.5")
    assert first["decision"]["reasons"] == ["TEMP_TOO_HIGH"]
    second = _pork(client, wf, "3.5")
    assert second["decision"]["outcome"] == "accepted"
    rejected, accepted = list(read_events(journal.db, types=LINES))
    assert rejected["body"]["retest_of"] is None
    assert accepted["body"]["retest_of"] == {"seq": rejected["seq"],
                                             "event_id": rejected["event_id"]}
    assert accepted["body"]["temperature_source"] == "typed"
    codes = {a["body"]["code"]: a for a in _alerts(journal)}
    assert set(codes) == {"RETEST_AFTER_REJECT", "TEMP_TYPED_AFTER_REJECT"}
    for a in codes.values():
        assert a["body"]["refs"] == [accepted["seq"], rejected["seq"]]
        assert a["seq"] > accepted["seq"]  # committed with the decision, in one transaction
    assert "10.5" in codes["TEMP_TYPED_AFTER_REJECT"]["body"]["message"]
    assert client.get("/api/state").json()["last"]["retest_of"]["seq"] == rejected["seq"]


def test_probe_retest_is_linked_but_not_a_typed_override(journal: Journal) -> None:
    client, wf = _door(journal, MEAT)
    _pork(client, wf, "10.5")
    wf.handle(Reading(Weight(net_g=0, stable=True)))
    client.post("/api/placement/line", json={"line_id": "1"})
    wf.handle(Reading(Weight(net_g=12100, stable=True)))
    wf.handle(SetTemperature(Decimal("3.2"), source="probe"))
    state = client.get("/api/state").json()
    assert state["placement"]["temperature_source"] == "probe"
    r = client.post("/api/confirm", json={"placement_id": state["placement"]["placement_id"]})
    assert r.json()["decision"]["outcome"] == "accepted"
    assert list(read_events(journal.db, types=LINES))[-1]["body"]["temperature_source"] == "probe"
    assert [a["body"]["code"] for a in _alerts(journal)] == ["RETEST_AFTER_REJECT"]


def test_first_decision_of_a_line_raises_nothing(journal: Journal) -> None:
    client, wf = _door(journal, MEAT)
    assert _pork(client, wf, "3")["decision"]["outcome"] == "accepted"
    assert _alerts(journal) == []


def test_trace_url_never_identifies_the_line(journal: Journal) -> None:
    """A 浙食链 trace URL read with a tapped line: kept as a trace code, no ITEM_MISMATCH."""
    client, wf = _door(journal, VEG)
    client.post("/api/placement/line", json={"line_id": "1"})
    url = "https://zsl.zjamr.zj.gov.cn/trace?code=330106202611280012"  # a 浙食链 QR
    inp = input_for(parse_code(url), wf.state)
    assert inp is not None and wf.handle(inp).refused is None
    wf.handle(Reading(Weight(net_g=15200, stable=True)))
    pid = client.get("/api/state").json()["placement"]["placement_id"]
    r = client.post("/api/confirm", json={"placement_id": pid})
    assert r.json()["decision"]["outcome"] == "accepted", r.json()["decision"]
    body = list(read_events(journal.db, types=LINES))[-1]["body"]
    assert body["scanned"] == {"item_code": None, "gtin": None}
    assert body["trace_codes"] == [{"scheme": "zheshilian", "code": "330106202611280012",
                                    "url": url}]


def _confirm(client: TestClient) -> dict[str, Any]:
    pid = client.get("/api/state").json()["placement"]["placement_id"]
    r = client.post("/api/confirm", json={"placement_id": pid})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_origin_from_the_order_line_and_from_a_gs1_label_into_the_ledger(journal: Journal) -> None:
    """产地: the order's master data where known; the goods' own GS1 label (AI 422) first; none
    carried over to the next item."""
    from zoneinfo import ZoneInfo

    from core.clock import parse_rfc3339
    from edge import ledger

    client, wf = _door(journal, VEG)
    client.post("/api/placement/line", json={"line_id": "1"})  # 上海青: the order names its origin
    wf.handle(Reading(Weight(net_g=15200, stable=True)))
    assert _confirm(client)["decision"]["outcome"] == "accepted"
    wf.handle(Reading(Weight(net_g=0, stable=True)))
    # 西红柿 with a GS1 label naming Australia (036) as the country of origin.
    code = parse_code("]C1" + "10T2611" + "\x1d" + "422036", today=NOW.date())
    inp = input_for(code, wf.state)
    assert inp is not None and getattr(inp, "origin", None) == "澳大利亚"
    assert wf.handle(inp).refused is None
    client.post("/api/placement/line", json={"line_id": "3"})
    wf.handle(Reading(Weight(net_g=20000, stable=True)))
    assert _confirm(client)["decision"]["outcome"] == "accepted"
    wf.handle(Reading(Weight(net_g=0, stable=True)))
    client.post("/api/placement/line", json={"line_id": "3"})  # the next 西红柿: no label read
    wf.handle(Reading(Weight(net_g=500, stable=True)))
    _confirm(client)
    events = list(read_events(journal.db, types=LINES))
    bodies = [e["body"] for e in events]
    assert [(b["origin"], b["origin_source"]) for b in bodies] == [
        ("浙江省杭州市萧山区", "order"), ("澳大利亚", "gs1"), (None, None)]
    tz = ZoneInfo("Asia/Shanghai")
    rows = list(ledger.rows(journal.db, parse_rfc3339(events[0]["at"]).astimezone(tz).date(), tz))
    assert [r["origin"] for r in rows] == ["浙江省杭州市萧山区", "澳大利亚", ""]
    assert "产地" in ledger.to_csv(rows).splitlines()[0]
