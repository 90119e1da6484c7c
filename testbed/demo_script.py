"""The scripted morning of ``demo --scripted``: five suppliers, 24 decisions.

Staff actions go through the kiosk's own HTTP API; the physical world is the
simulators: loads placed on the simulated scale, labels and delivery notes held
under the synthetic camera. Each step states the outcome it expects; the run
fails if any differs, or if the journal does not reach central and verify there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import requests

from firmware_bridge.scenario import placement
from testbed.demo_data import PINS

TWO = ("zhang", "li")


@dataclass
class Step:
    what: str
    expect: str  # "accepted" | "rejected"
    reasons: tuple[str, ...] = ()
    line: str | None = None  # tapped on screen
    label: str | None = None  # GS1 text under the camera
    grams: int = 0
    pieces: int | None = None
    temp: str | None = None
    partial: bool = False
    inspectors: tuple[str, ...] = TWO


@dataclass
class Delivery:
    order_suffix: str
    steps: list[Step]
    note: dict[str, Any] | None = None  # shown as an ADN1 QR code to open the delivery
    results: list[tuple[Step, dict[str, Any]]] = field(default_factory=list)


def yymmdd(d: date) -> str:
    return d.strftime("%y%m%d")


def morning(today: date) -> list[Delivery]:
    yesterday, soon = yymmdd(today - timedelta(days=1)), yymmdd(today + timedelta(days=20))
    made = yymmdd(today - timedelta(days=2))
    return [
        Delivery("0012", note={"dn": "DN-0012", "supplier_id": "sup-0031", "lines": [
            {"line_id": "1", "qty": "30", "unit": "jin", "unit_price_fen": 350}]}, steps=[
            Step("上海青 30.4 斤", "accepted", line="1", grams=15200),
            Step("土豆超重", "rejected", ("QTY_OVER",), line="2", grams=27000),
            Step("西红柿欠重", "rejected", ("QTY_UNDER",), line="3", grams=18000),
            Step("鸡蛋 10 箱", "accepted", line="4", grams=18050, pieces=10),
            Step("错送大米", "rejected", ("ITEM_NOT_ON_ORDER",),
                 label=f"(01)06901234511116(10)R2411(11){made}", grams=25000),
        ]),
        Delivery("0013", steps=[
            Step("猪肉温度过高", "rejected", ("TEMP_TOO_HIGH",), line="1", grams=12100, temp="10.5"),
            Step("猪肉复测合格", "accepted", line="1", grams=12100, temp="3.5"),
            Step("冻鸡腿扫码", "accepted", label=f"(01)06901234567892(10)B2411(17){soon}",
                 grams=16000, temp="-19"),
            Step("过期牛奶", "rejected", ("EXPIRED",),
                 label=f"(01)06920202888883(10)M1120(17){yesterday}", pieces=6, temp="4.5"),
        ]),
        Delivery("0014", steps=[
            Step("大豆油（许可证过期）", "rejected", ("SUPPLIER_LICENSE_EXPIRED",),
                 label="(01)06901234500011(10)Y2608", pieces=4),
        ]),
        Delivery("0015", steps=[
            Step("大米 4 袋", "accepted", label=f"(01)06901234511116(10)R2411(11){made}",
                 grams=100200),
            Step("面粉，仅一名验收员", "rejected", ("INSPECTORS_TOO_FEW",),
                 label="(01)06901234522228(10)F2411", grams=20000, inspectors=("zhang",)),
            Step("面粉", "accepted", label="(01)06901234522228(10)F2411", grams=20100),
            Step("老豆腐冷藏", "accepted", line="3", grams=5000, temp="6"),
            Step("鲜面条第一批", "accepted", line="4", grams=4000, partial=True),
            Step("鲜面条第二批", "accepted", line="4", grams=4100),
            Step("食用盐 10 袋", "accepted", label="(01)06901234533330(10)S2409", pieces=10,
                 grams=4000),
        ]),
        Delivery("0016", note={"dn": "DN-0016", "supplier_id": "sup-0071", "lines": [
            {"line_id": "1", "qty": "40", "unit": "jin", "unit_price_fen": 520}]}, steps=[
            Step("苹果单价高于订单", "rejected", ("PRICE_ABOVE_ORDER",), line="1", grams=20000),
            Step("香蕉", "accepted", line="2", grams=15000),
            Step("橙子", "accepted", line="3", grams=20500),
            Step("黄瓜", "accepted", line="4", grams=7300),
            Step("胡萝卜欠重", "rejected", ("QTY_UNDER",), line="5", grams=9600),
            Step("大白菜", "accepted", line="6", grams=25000),
        ]),
    ]


class Driver:
    """Staff at the kiosk (HTTP API) and the world (simulated scale, synthetic camera)."""

    def __init__(self, system: Any) -> None:
        self.url = system.url
        self.station = system.station
        self.http = requests.Session()

    def api(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        r = self.http.request(method, self.url + path, json=body, timeout=15)
        if r.status_code not in ok:
            raise RuntimeError(f"{method} {path}: HTTP {r.status_code} {r.text[:300]}")
        return r.json()

    def state(self) -> dict[str, Any]:
        return dict(self.api("GET", "/api/state"))

    def wait(self, pred: Callable[[dict[str, Any]], bool], what: str, timeout: float = 15) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.state()
            if pred(s):
                return s
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}")

    def show(self, codes: list[str], fmt: str = "code-128") -> None:
        self.station.camera_source.show(codes, fmt)

    def place(self, grams: int) -> dict[str, Any]:
        self.station.scale.simulator.play(placement(grams, oscillation_g=min(150, grams // 50 + 1),
                                                    settle_ms=500))
        return dict(self.wait(lambda s: bool(s["weight"]) and s["weight"]["stable"]
                              and s["weight"]["net_g"] == grams, f"{grams} g stable"))

    def clear(self) -> None:
        """Take the item and its label away: the scale returns to empty, a new placement."""
        p = self.state()["placement"]
        before, loaded = p["placement_id"], p["loaded"]
        self.show([])
        self.station.scale.simulator.play(placement(0))
        if loaded:
            self.wait(lambda s: s["placement"]["placement_id"] != before, "a new placement")

    def wait_roster(self, timeout: float = 60) -> None:
        """Until the roster central serves is adopted: a PIN sign-in is no longer NO_ROSTER."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = self.http.post(self.url + "/api/inspectors", timeout=15,
                               json={"inspector_id": "zhang", "pin": PINS["zhang"]})
            if r.status_code == 200:
                return
            time.sleep(0.2)
        raise RuntimeError("the roster never arrived from central")

    def sign_in_only(self, who: tuple[str, ...]) -> None:
        for person in self.state()["inspectors"]:
            if person not in who:
                self.api("DELETE", f"/api/inspectors/{person}")
        for person in who:
            if person not in self.state()["inspectors"]:
                self.api("POST", "/api/inspectors", {"inspector_id": person, "pin": PINS[person]})


def do_step(d: Driver, step: Step) -> dict[str, Any]:
    d.clear()
    d.sign_in_only(step.inspectors)
    if step.label:
        d.show([step.label])
        gtin = step.label[4:18]
        d.wait(lambda s: s["placement"]["gtin"] == gtin, f"scan of {step.label}")
    if step.line:
        d.api("POST", "/api/placement/line", {"line_id": step.line})
    if step.partial:
        d.api("POST", "/api/placement/partial", {"partial": True})
    if step.pieces is not None:
        d.api("POST", "/api/placement/pieces", {"pieces": step.pieces})
    if step.temp is not None:
        d.api("POST", "/api/placement/temperature", {"temperature_c": step.temp})
    st = d.place(step.grams) if step.grams else d.state()
    out = d.api("POST", "/api/confirm", {"placement_id": st["placement"]["placement_id"]})
    return dict(out["decision"])


def open_delivery(d: Driver, dl: Delivery, order_id: str) -> None:
    d.clear()
    if dl.note is not None:
        note = {**dl.note, "order_id": order_id}
        d.show(["ADN1:" + json.dumps(note, separators=(",", ":"))], "qr-code")
        d.wait(lambda s: s["delivery"] is not None and s["delivery"]["order_id"] == order_id,
               "delivery opened by its note")
        d.show([])
    else:
        d.api("POST", "/api/deliveries", {"order_id": order_id})


def run_morning(system: Any) -> int:
    from datetime import UTC, datetime

    from testbed.demo_data import STATION_ID

    d = Driver(system)
    d.wait(lambda s: s["devices"].get("scale", {}).get("ok") and len(s["orders"]) >= 5,
           "scale connected and today's orders adopted", timeout=60)
    d.wait_roster()
    orders = {o["order_id"][-4:]: o["order_id"] for o in d.state()["orders"]}
    today = datetime.now(UTC).astimezone(system.tz).date()
    plan = morning(today)
    failures = []
    for dl in plan:
        open_delivery(d, dl, orders[dl.order_suffix])
        for step in dl.steps:
            dec = do_step(d, step)
            dl.results.append((step, dec))
            got = (dec["outcome"], tuple(dec["reasons"]))
            mark = "✓" if got == (step.expect, step.reasons) else "✗"
            if mark == "✗":
                failures.append(f"{step.what}: expected {step.expect} {step.reasons}, got {got}")
            print(f"  {mark} {dec['outcome']:<8} {step.what}"
                  + (f"  [{', '.join(dec['reasons'])}]" if dec["reasons"] else ""), flush=True)
        d.clear()
        d.api("POST", "/api/deliveries/current/close")
    decided = [r for dl in plan for r in dl.results]
    accepted = sum(1 for _, dec in decided if dec["outcome"] == "accepted")
    print(f"decisions: {len(decided)}, accepted {accepted}, rejected {len(decided) - accepted}")
    synced = wait_synced(system, STATION_ID)
    print(synced["summary"])
    ok = not failures and synced["ok"]
    for f in failures:
        print("FAILED: " + f)
    return 0 if ok else 1


def wait_synced(system: Any, station_id: str, timeout: float = 90) -> dict[str, Any]:
    """Wait until central acked the whole journal, then verify the chain it holds."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from central.store import Store
    from contract.chain import verify_chain
    from sync import state as sync_state

    if system.broker is None:
        return {"ok": False, "summary": "sync: no mosquitto here, events not synced"}
    j = system.station.journal
    last = j.last_seq()
    end = time.monotonic() + timeout
    cursor = 0
    while time.monotonic() < end:
        cursor = sync_state.get_cursor(j.db, station_id)
        if cursor >= last:
            break
        time.sleep(0.2)
    store = Store(f"sqlite:///{system.state / 'central' / 'central.db'}")
    try:
        events = [json.loads(t) for t in store.event_texts(station_id)]
    finally:
        store.close()
    key: Ed25519PrivateKey = j.key
    problems = list(verify_chain(events, key.public_key()))
    seqs = [e["seq"] for e in events]
    ok = cursor >= last and seqs == list(range(1, last + 1)) and not problems
    summary = (f"sync: station journal seq 1..{last}, acked through {cursor}; central holds "
               f"{len(events)} events, chain {'verifies' if not problems else problems[0]}")
    return {"ok": ok, "summary": summary}
