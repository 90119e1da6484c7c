"""Through the station's HTTP API: the sensory check, the rapid test, what happens to
rejected goods (disposition + driver acknowledgement), the return slip and the ledger."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.config import parse_config, policy_from_config
from core.clock import parse_rfc3339
from edge import ledger
from edge.blobs import BlobStore
from edge.journal import Journal, read_events
from edge.web.app import create_app
from edge.web.guard import Access
from edge.workflow.driver import Workflow
from edge.workflow.model import Reading, Weight
from testbed.demo_data import PINS
from tests.test_web_api import kiosk_client
from tests.test_workflow import MEAT, NOW, ORDERS, ROSTER, VEG

# The station config's defaults: meat/poultry/seafood checklists, leafy vegetables tested.
POLICY = policy_from_config(parse_config('[station]\nstation_id = "test-station-01"\n'
                                         'school_id = "s-001"\n'), today=NOW.date())
FRUIT = "PO-20261128-0016"
LINES = ("line.accepted", "line.rejected")


@pytest.fixture
def kiosk(journal: Journal, tmp_path: Path) -> tuple[TestClient, Workflow, BlobStore]:
    wf = Workflow(journal, lambda: ORDERS, POLICY, now=lambda: NOW, max_weight_age_s=1e9,
                  roster=lambda: ROSTER)
    blobs = BlobStore(tmp_path / "blobs")
    client = kiosk_client(create_app(wf, lambda: ORDERS, lambda: {}, blobs=blobs,
                                     access=Access(port=8080)))
    for who in ("zhang", "li"):
        assert client.post("/api/inspectors", json={"inspector_id": who, "pin": PINS[who]}).is_success
    return client, wf, blobs


def _item(client: TestClient, wf: Workflow, line: str, grams: int,
          *posts: tuple[str, dict[str, Any]]) -> Any:
    wf.handle(Reading(Weight(net_g=0, stable=True)))
    assert client.post("/api/placement/line", json={"line_id": line}).is_success
    wf.handle(Reading(Weight(net_g=grams, stable=True, raw=f"ST,+{grams:08d} g", protocol="ad")))
    for path, body in posts:
        r = client.post(path, json=body)
        assert r.status_code == 200, r.text
    pid = client.get("/api/state").json()["placement"]["placement_id"]
    return client.post("/api/confirm", json={"placement_id": pid})


def _open(client: TestClient, order_id: str) -> None:
    assert client.post("/api/deliveries", json={"order_id": order_id}).status_code == 200


TEMP = ("/api/placement/temperature", {"temperature_c": "3"})


def test_sensory_check_required_and_a_failed_item_rejects(
        kiosk: tuple[TestClient, Workflow, BlobStore], journal: Journal) -> None:
    client, wf, _ = kiosk
    _open(client, MEAT)
    line = client.get("/api/state").json()["delivery"]["lines"][0]
    assert [i["label"] for i in line["sensory"]] == ["腐败变质", "异味", "异物", "解冻后再冻"]
    r = _item(client, wf, "1", 12100, TEMP)
    assert r.status_code == 409 and r.json()["error"] == "SENSORY_REQUIRED"
    assert "腐败变质" in r.json()["message"] and list(read_events(journal.db, types=LINES)) == []
    bad = client.post("/api/placement/sensory", json={"found": {"rotten": True}})
    assert bad.status_code == 409 and bad.json()["error"] == "BAD_SENSORY"
    r = _item(client, wf, "1", 12100, TEMP, ("/api/placement/sensory", {"found": {
        "spoiled": False, "odour": True, "foreign_matter": False, "refrozen": False}}))
    assert r.json()["decision"]["reasons"] == ["SENSORY_ODOUR"]
    assert r.json()["state"]["last"]["reasons"] == [{"code": "SENSORY_ODOUR",
                                                     "label": "感官检查：有异味"}]
    (ev,) = read_events(journal.db, types=LINES)
    assert ev["body"]["sensory"] == {"spoiled": "ok", "odour": "found", "foreign_matter": "ok",
                                     "refrozen": "ok"}


def test_rapid_test_required_and_above_threshold_rejects(
        kiosk: tuple[TestClient, Workflow, BlobStore], journal: Journal) -> None:
    client, wf, _ = kiosk
    _open(client, FRUIT)
    r = _item(client, wf, "6", 25000)
    assert r.status_code == 409 and r.json()["error"] == "RAPID_TEST_REQUIRED"
    bad = client.post("/api/placement/rapid-test", json={"inhibition_pct": "101"})
    assert bad.status_code == 422
    test = {"inhibition_pct": "62.5", "sample": "大白菜 200 g", "operator": "李娜"}
    r = _item(client, wf, "6", 25000, ("/api/placement/rapid-test", test))
    assert r.json()["decision"]["reasons"] == ["RAPID_TEST_FAILED"]
    body = list(read_events(journal.db, types=LINES))[-1]["body"]
    assert body["rapid_test"] == {"inhibition_pct": "62.5", "passed": None,
                                  "sample": "大白菜 200 g", "operator": "李娜", "source": "typed"}
    r = _item(client, wf, "6", 25000, ("/api/placement/rapid-test", {**test,
                                                                      "inhibition_pct": "18"}))
    assert r.json()["decision"]["outcome"] == "accepted"


def _image(fmt: str, size: tuple[int, int]) -> bytes:
    """A white image with one dark stroke (a signature, a document), encoded as ``fmt``."""
    img = Image.new("RGB", size, "white")
    img.paste((10, 10, 10), (size[0] // 10, size[1] // 2, size[0] * 9 // 10, size[1] // 2 + 4))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def test_close_refused_until_rejections_are_disposed_then_the_return_slip(
        kiosk: tuple[TestClient, Workflow, BlobStore], journal: Journal) -> None:
    client, wf, blobs = kiosk
    _open(client, VEG)
    assert _item(client, wf, "2", 27000).json()["decision"]["reasons"] == ["QTY_OVER"]
    wf.handle(Reading(Weight(net_g=0, stable=True)))
    client.post("/api/placement/scan", json={"gtin": "06901234511116"})  # rice: wrong order
    wf.handle(Reading(Weight(net_g=25000, stable=True)))
    pid = client.get("/api/state").json()["placement"]["placement_id"]
    wrong = client.post("/api/confirm", json={"placement_id": pid}).json()
    assert wrong["decision"]["reasons"] == ["ITEM_NOT_ON_ORDER"]
    r = client.post("/api/deliveries/current/close")
    assert r.status_code == 409 and r.json()["error"] == "DISPOSITION_MISSING"
    assert "土豆" in r.json()["message"] and "大米" in r.json()["message"]
    rej = client.get("/api/state").json()["delivery"]["rejections"]
    assert [(x["item"], x["disposition"]) for x in rej] == [("土豆", None), ("大米", None)]
    potato, rice = rej[0]["seq"], rej[1]["seq"]
    nothing = client.post(f"/api/rejections/{potato}/disposition", json={"disposition": "returned"})
    assert nothing.status_code == 422  # no acknowledgement
    png = _image("PNG", (200, 60))
    r = client.post(f"/api/rejections/{potato}/disposition", json={
        "disposition": "returned", "signature_png": base64.b64encode(png).decode()})
    assert r.status_code == 200, r.text
    again = client.post(f"/api/rejections/{potato}/disposition", json={
        "disposition": "destroyed", "driver_badge": "DRV-1"})
    assert again.status_code == 409 and again.json()["error"] == "ALREADY_DISPOSED"
    assert client.post("/api/deliveries/current/close").status_code == 409
    assert client.post(f"/api/rejections/{rice}/disposition", json={
        "disposition": "destroyed", "driver_badge": "DRV-1"}).status_code == 200
    closed = client.post("/api/deliveries/current/close")
    assert closed.status_code == 200
    disposed = [e["body"] for e in read_events(journal.db, types=("rejection.disposed",))]
    sha = hashlib.sha256(png).hexdigest()
    assert disposed[0]["acknowledged_by"]["signature_sha256"] == sha
    assert blobs.path(f"{sha}.png") is not None and client.get(f"/api/blobs/{sha}.png").content == png
    assert disposed[1]["acknowledged_by"] == {"method": "badge", "badge": "DRV-1"}
    assert disposed[0]["rejected"]["seq"] == potato and disposed[0]["inspector_names"] == [
        "李娜", "张伟"]

    delivery_id = closed.json()["state"]["closed"]["delivery_id"]
    slip = client.get(f"/api/deliveries/{delivery_id}/return-slip")
    assert slip.status_code == 200 and "退货单" in slip.text and "<svg" in slip.text
    for text in ("土豆", "退回供应商", "司机签名", "大米", "现场销毁", "司机刷卡 DRV-1",
                 "数量超出订单上限", "杭州绿源蔬菜配送有限公司",
                 "<td>27 公斤</td>", "<td>25 公斤</td>"):  # in the order's unit (a wrong item: 公斤)
        assert text in slip.text, text
    assert "27.000" not in slip.text
    assert client.get("/api/deliveries/nope/return-slip").status_code == 404

    day = parse_rfc3339(disposed[0]["delivery_id"] and next(
        read_events(journal.db, types=LINES))["at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()
    rows = list(ledger.rows(journal.db, day, ZoneInfo("Asia/Shanghai")))
    assert [r["disposition"] for r in rows] == ["退回供应商（司机签名确认）", "现场销毁（司机刷卡确认）"]
    assert rows[1]["item_name"] == "大米（非本订单货品）" and rows[1]["spec"] == "25kg/袋"
    assert (rows[0]["quantity"], rows[0]["unit"], rows[0]["ordered"]) == ("27", "公斤", "25 公斤")
    assert isinstance(day, date)


def test_documents_photographed_or_the_line_fails_cert_missing(
        journal: Journal, tmp_path: Path) -> None:
    from edge.orders.model import orders_from_doc
    from testbed.demo_data import demo_orders

    orders = orders_from_doc(demo_orders("test-station-01", "2026-11-28", documents=True))
    frame: list[bytes | None] = [None]
    wf = Workflow(journal, lambda: orders, POLICY, now=lambda: NOW, max_weight_age_s=1e9,
                  roster=lambda: ROSTER)
    blobs = BlobStore(tmp_path / "blobs")
    client = kiosk_client(create_app(wf, lambda: orders, lambda: {}, blobs=blobs,
                                     still=lambda: frame[0], access=Access(port=8080)))
    for who in ("zhang", "li"):
        client.post("/api/inspectors", json={"inspector_id": who, "pin": PINS[who]})
    _open(client, MEAT)
    line = client.get("/api/state").json()["delivery"]["lines"][0]
    assert line["documents"] == [[{"kind": "animal_quarantine", "label": "动物检疫合格证明"}]]
    fine = ("/api/placement/sensory", {"found": {k: False for k in (
        "spoiled", "odour", "foreign_matter", "refrozen")}})
    r = _item(client, wf, "1", 12100, TEMP, fine)
    assert r.json()["decision"]["reasons"] == ["CERT_MISSING"]

    wf.handle(Reading(Weight(net_g=0, stable=True)))
    client.post("/api/placement/line", json={"line_id": "1"})
    no_frame = client.post("/api/placement/document", json={"kind": "animal_quarantine"})
    assert no_frame.status_code == 503 and "摄像头" in no_frame.json()["message"]
    frame[0] = _image("JPEG", (640, 480))
    bad = client.post("/api/placement/document", json={"kind": "vet_stamp"})
    assert bad.status_code == 409 and bad.json()["error"] == "UNKNOWN_DOCUMENT"
    r = client.post("/api/placement/document", json={"kind": "animal_quarantine"})
    assert r.status_code == 200, r.text
    (cap,) = read_events(journal.db, types=("document.captured",))
    sha = hashlib.sha256(frame[0]).hexdigest()
    assert cap["body"]["sha256"] == sha and cap["body"]["label"] == "动物检疫合格证明"
    assert (tmp_path / "blobs" / f"{sha}.jpg").read_bytes() == frame[0]
    wf.handle(Reading(Weight(net_g=12100, stable=True)))
    for path, body in (TEMP, fine):
        client.post(path, json=body)
    pid = client.get("/api/state").json()["placement"]["placement_id"]
    r = client.post("/api/confirm", json={"placement_id": pid})
    assert r.json()["decision"]["outcome"] == "accepted", r.json()["decision"]
    rec = list(read_events(journal.db, types=LINES))[-1]["body"]
    assert rec["documents"] == [{"kind": "animal_quarantine", "label": "动物检疫合格证明",
                                 "sha256": sha, "seq": cap["seq"]}]
    rows = list(ledger.rows(journal.db, parse_rfc3339(cap["at"]).astimezone(
        ZoneInfo("Asia/Shanghai")).date(), ZoneInfo("Asia/Shanghai")))
    assert [r["documents"] for r in rows] == ["", "动物检疫合格证明"]
