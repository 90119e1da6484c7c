"""The scripted morning of ``demo --scripted``: five suppliers, 26 decisions.

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
    found: tuple[str, ...] = ()  # sensory items found wrong (the rest of the checklist: fine)
    rapid: str | None = None  # rapid-test inhibition %
    trace: str | None = None  # a traceability QR (URL) shown with the item
    dispose: str = "returned"  # what happens to it when rejected
    certs: bool = True  # the documents its category needs are photographed


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
            Step("猪肉有异味", "rejected", ("SENSORY_ODOUR",), line="1", grams=12100, temp="3",
                 found=("odour",), dispose="destroyed"),
            Step("猪肉温度过高（复验）", "rejected", ("TEMP_TOO_HIGH",), line="1", grams=12100,
                 temp="10.5"),
            Step("猪肉复测合格", "accepted", line="1", grams=12100, temp="3.5"),
            Step("冻鸡腿缺检疫证明", "rejected", ("CERT_MISSING",),
                 label=f"(01)06901234567892(10)B2411(17){soon}", grams=16000, temp="-19",
                 certs=False),
            Step("冻鸡腿扫码", "accepted", label=f"(01)06901234567892(10)B2411(17){soon}",
                 grams=16000, temp="-19"),
            Step("过期牛奶", "rejected", ("EXPIRED",), dispose="destroyed",
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
            Step("香蕉（浙食链追溯码）", "accepted", line="2", grams=15000,
                 trace="https://zsl.zjamr.zj.gov.cn/trace?code=330106202611280071"),
            Step("橙子", "accepted", line="3", grams=20500),
            Step("黄瓜", "accepted", line="4", grams=7300),
            Step("胡萝卜欠重", "rejected", ("QTY_UNDER",), line="5", grams=9600),
            Step("大白菜快检不合格", "rejected", ("RAPID_TEST_FAILED",), line="6", grams=25000,
                 rapid="62.5", dispose="replaced"),
            Step("大白菜换货重验", "accepted", line="6", grams=25000, rapid="12"),
        ]),
    ]


class Driver:
    """Staff at the kiosk (HTTP API) and the world (simulated scale, synthetic camera)."""

    def __init__(self, system: Any) -> None:
        from testbed.kiosk_client import kiosk_session

        self.url = system.url
        self.station = system.station
        self.http = kiosk_session(self.url)  # carries the kiosk page's token, as the page does

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
                                                    settle_ms=150))
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
    codes = [c for c in (step.label, step.trace) if c]
    if codes:
        d.show(codes, "qr-code")
    if step.label:
        gtin = step.label[4:18]
        d.wait(lambda s: s["placement"]["gtin"] == gtin, f"scan of {step.label}")
    if step.trace:
        d.wait(lambda s: bool(s["placement"]["trace_codes"]), "the trace QR read")
    if step.line:
        d.api("POST", "/api/placement/line", {"line_id": step.line})
    checklist(d, step)
    if step.partial:
        d.api("POST", "/api/placement/partial", {"partial": True})
    if step.pieces is not None:
        d.api("POST", "/api/placement/pieces", {"pieces": step.pieces})
    if step.temp is not None:
        d.api("POST", "/api/placement/temperature", {"temperature_c": step.temp})
    st = d.place(step.grams) if step.grams else d.state()
    out = d.api("POST", "/api/confirm", {"placement_id": st["placement"]["placement_id"]})
    return {**out["decision"], "seq": out["committed"]["seq"]}


def checklist(d: Driver, step: Step) -> None:
    """Answer the line's sensory checklist (``found`` wrong, the rest fine), the rapid test,
    and photograph the documents its category needs (the certificate under the camera)."""
    s = d.state()
    lid = s["placement"]["resolved_line_id"]
    line = next((ln for ln in s["delivery"]["lines"] if ln["line_id"] == lid), None)
    items = [i["key"] for i in (line or {}).get("sensory", [])] + list(step.found)
    if items:
        d.api("POST", "/api/placement/sensory", {"found": {k: k in step.found for k in items}})
    for alternatives in (line or {}).get("documents", []) if step.certs else []:
        d.api("POST", "/api/placement/document", {"kind": alternatives[0]["kind"]})
    if step.rapid is not None:
        d.api("POST", "/api/placement/rapid-test", {"inhibition_pct": step.rapid,
                                                    "sample": "叶片 200 g", "operator": "李娜"})


def dispose_all(d: Driver, dl: Delivery) -> int:
    """Each rejection of the delivery gets its disposition, acknowledged by the driver
    (a signature drawn on the screen, or the driver's badge, in turn)."""
    how = {dec["seq"]: step.dispose for step, dec in dl.results}
    done = 0
    for n, r in enumerate(d.state()["delivery"]["rejections"]):
        if r["disposition"] is not None:
            continue
        ack: dict[str, str] = ({"signature_png": signature_png()} if n % 2 == 0
                               else {"driver_badge": f"DRV-{dl.order_suffix}"})
        d.api("POST", f"/api/rejections/{r['seq']}/disposition",
              {"disposition": how.get(r["seq"], "returned"), **ack})
        done += 1
    return done


def signature_png() -> str:
    """A driver's scribble, as the kiosk's canvas sends it (PNG, base64)."""
    import base64
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (520, 160), "white")
    ImageDraw.Draw(img).line([(30, 120), (90, 40), (150, 110), (230, 50), (320, 120),
                              (420, 60), (490, 100)], fill="black", width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


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
    from testbed.demo_web import check_login

    d = Driver(system)
    d.wait(lambda s: s["devices"].get("scale", {}).get("ok") and len(s["orders"]) >= 5,
           "scale connected and today's orders adopted", timeout=60)
    d.wait_roster()
    orders = {o["order_id"][-4:]: o["order_id"] for o in d.state()["orders"]}
    today = datetime.now(UTC).astimezone(system.tz).date()
    plan = morning(today)
    failures: list[str] = []
    disposed = slips = 0
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
        disposed += dispose_all(d, dl)
        closed = d.api("POST", "/api/deliveries/current/close")["state"]["closed"]
        slip = d.http.get(f"{d.url}/api/deliveries/{closed['delivery_id']}/return-slip",
                          timeout=15)
        slips += slip.status_code == 200 and "退货单" in slip.text
    decided = [r for dl in plan for r in dl.results]
    accepted = sum(1 for _, dec in decided if dec["outcome"] == "accepted")
    print(f"decisions: {len(decided)}, accepted {accepted}, rejected {len(decided) - accepted}")
    failures += check_evidence(system, disposed, slips, len(plan))
    failures += check_login(system.central_url, system.logins)
    synced = wait_synced(system, STATION_ID)
    print(synced["summary"])
    if synced["ok"]:
        failures += wait_images(system, STATION_ID)
    ok = not failures and synced["ok"]
    for f in failures:
        print("FAILED: " + f)
    return 0 if ok else 1


def check_evidence(system: Any, disposed: int, slips: int, deliveries: int) -> list[str]:
    """The morning's evidence beyond outcomes: re-tests flagged, trace codes kept, every
    rejection disposed of with the driver's acknowledgement, a return slip per delivery."""
    from edge.journal import read_events

    db = system.station.journal.db
    alerts = [e["body"]["code"] for e in read_events(db, types=("alert.raised",))]
    traced = sum(1 for e in read_events(db, types=("line.accepted", "line.rejected"))
                 if e["body"].get("trace_codes"))
    rejected = sum(1 for _ in read_events(db, types=("line.rejected",)))
    print(f"evidence: {alerts.count('RETEST_AFTER_REJECT')} re-tests flagged "
          f"({alerts.count('TEMP_TYPED_AFTER_REJECT')} typed temperature), {traced} trace codes, "
          f"{disposed}/{rejected} rejections disposed with the driver's acknowledgement, "
          f"{slips}/{deliveries} return slips")
    problems = []
    if alerts.count("RETEST_AFTER_REJECT") < 4 or "TEMP_TYPED_AFTER_REJECT" not in alerts:
        problems.append(f"re-tests not flagged as expected: {alerts}")
    if traced != 1:
        problems.append(f"{traced} records with trace codes, expected 1")
    if disposed != rejected or slips != deliveries:
        problems.append(f"dispositions {disposed}/{rejected}, slips {slips}/{deliveries}")
    return problems


def wait_images(system: Any, station_id: str, timeout: float = 60) -> list[str]:
    """Every document photo and drawn signature the journal names reaches central (the uplink
    uploads them once central holds their events)."""
    from edge.journal import read_events

    db = system.station.journal.db
    shas = {e["body"]["sha256"] for e in read_events(db, types=("document.captured",))}
    shas |= {e["body"]["acknowledged_by"]["signature_sha256"]
             for e in read_events(db, types=("rejection.disposed",))
             if e["body"]["acknowledged_by"].get("method") == "signature"}
    where = system.state / "central" / "clips" / "images" / station_id
    end = time.monotonic() + timeout
    while (missing := {s for s in shas if not (where / s).is_file()}) and time.monotonic() < end:
        time.sleep(0.5)
    print(f"images: {len(shas) - len(missing)}/{len(shas)} document photos and signatures at central")
    return [f"{len(missing)} images never reached central"] if missing or not shas else []


def wait_synced(system: Any, station_id: str, timeout: float = 90) -> dict[str, Any]:
    """Wait until central acked the whole journal, then verify the chain it holds."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from central.store import Store
    from contract.chain import verify_chain
    from sync import state as sync_state

    if system.broker is None:
        return {"ok": False, "summary": "sync: no mosquitto here, events not synced"}
    j = system.station.journal

    def central_events() -> list[dict[str, Any]]:
        store = Store(system.central_dsn)
        try:
            return [json.loads(t) for t in store.event_texts(station_id)]
        finally:
            store.close()

    # The station keeps journaling (housekeeping, alerts) while we wait: compare against
    # the journal as it is at each look, until central holds all of it.
    end = time.monotonic() + timeout
    while True:
        last = j.last_seq()
        cursor = sync_state.get_cursor(j.db, station_id)
        events = central_events() if cursor >= last else []
        if (cursor >= last and len(events) >= last) or time.monotonic() > end:
            break
        time.sleep(0.2)
    key: Ed25519PrivateKey = j.key
    problems = list(verify_chain(events, key.public_key()))
    seqs = [e["seq"] for e in events]
    # Central holds every event the journal had (and perhaps one appended since), in order.
    ok = cursor >= last and len(seqs) >= last and seqs == list(range(1, len(seqs) + 1)) \
        and not problems
    summary = (f"sync: station journal seq 1..{last}, acked through {cursor}; central holds "
               f"{len(events)} events, chain {'verifies' if not problems else problems[0]}")
    return {"ok": ok, "summary": summary}
