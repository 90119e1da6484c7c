"""Inspectors come from a roster: served by central, cached by the uplink, adopted by the
station; only its members sign in (badge or PIN), once each, and a guessed PIN locks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from app.orders_sync import fetch_roster_once
from central.api import serve_in_thread
from core.clock import parse_rfc3339
from edge import ledger
from edge.journal import Journal, read_events
from edge.roster import store
from edge.roster.model import RosterRefused, roster_from_doc, validate_roster
from edge.roster.pin import hash_pin, verify_pin
from edge.web.app import create_app
from edge.web.guard import Access
from edge.workflow.driver import PeoplePolicy, Workflow
from edge.workflow.model import IdleCheck, Reading, SignIn, Weight
from testbed.demo_data import BADGES, PINS, demo_roster
from tests.cli_inproc import run_cli
from tests.sync_harness import central_http, station_token
from tests.test_sync_orders import station_cfg
from tests.test_web_api import kiosk_client
from tests.test_workflow import NOW, ORDERS, POLICY, ROSTER, VEG

PEOPLE = ("inspector.signed_in", "inspector.signed_out")


class Clock:
    t = 1000.0


@pytest.fixture
def door(journal: Journal) -> tuple[TestClient, Workflow]:
    wf = Workflow(journal, lambda: ORDERS, POLICY, now=lambda: NOW, max_weight_age_s=1e9,
                  roster=lambda: ROSTER, mono=lambda: Clock.t,
                  people=PeoplePolicy(pin_attempts=5, lockout_s=60, idle_signout_s=600))
    return kiosk_client(create_app(wf, lambda: ORDERS, lambda: {}, access=Access(port=8080))), wf


def _in(client: TestClient, who: str, pin: str | None = None) -> Any:
    return client.post("/api/inspectors", json={"inspector_id": who, "pin": pin or PINS[who]})


def test_unknown_refused_same_person_twice_refused_events_journaled(
        door: tuple[TestClient, Workflow], journal: Journal) -> None:
    client, _ = door
    r = _in(client, "x", "1234")
    assert r.status_code == 409 and r.json()["error"] == "UNKNOWN_INSPECTOR"
    assert _in(client, "zhang").status_code == 200
    again = _in(client, "zhang")
    assert again.status_code == 409 and again.json()["error"] == "ALREADY_SIGNED_IN"
    by_badge = client.post("/api/inspectors", json={"badge": BADGES["zhang"]})
    assert by_badge.json()["error"] == "ALREADY_SIGNED_IN"  # the same person by badge
    assert client.post("/api/inspectors", json={"badge": BADGES["li"]}).status_code == 200
    state = client.get("/api/state").json()
    assert state["signed_in"] == [{"inspector_id": "zhang", "name": "张伟"},
                                  {"inspector_id": "li", "name": "李娜"}]
    ins = [e["body"] for e in read_events(journal.db, types=PEOPLE)]
    assert [(b["inspector_id"], b["name"], b["method"]) for b in ins] == [
        ("zhang", "张伟", "pin", ), ("li", "李娜", "badge")]
    assert all(b["roster_sha256"] == "test-roster" and "scrypt" not in json.dumps(b) for b in ins)
    assert client.delete("/api/inspectors/li").status_code == 200
    out = list(read_events(journal.db, types=PEOPLE))[-1]
    assert out["type"] == "inspector.signed_out" and out["body"] == {
        "inspector_id": "li", "name": "李娜", "reason": "button"}


def test_five_wrong_pins_lock_the_id(door: tuple[TestClient, Workflow], journal: Journal) -> None:
    client, _ = door
    for n in range(4):
        r = _in(client, "li", "0000")
        assert r.json()["error"] == "WRONG_PIN" and f"{4 - n} 次" in r.json()["message"]
    r = _in(client, "li", "0000")
    assert r.json()["error"] == "INSPECTOR_LOCKED"
    locked = _in(client, "li")  # the right PIN no longer helps
    assert locked.status_code == 409 and locked.json()["error"] == "INSPECTOR_LOCKED"
    assert _in(client, "zhang").status_code == 200  # other ids are not locked
    (alert,) = read_events(journal.db, types=("alert.raised",))
    assert alert["body"]["code"] == "INSPECTOR_LOCKED" and alert["body"]["inspector_id"] == "li"
    Clock.t += 61
    assert _in(client, "li").status_code == 200
    assert [e["body"]["inspector_id"] for e in read_events(journal.db, types=PEOPLE)] == [
        "zhang", "li"]


def test_idle_station_signs_everyone_out(door: tuple[TestClient, Workflow],
                                         journal: Journal) -> None:
    client, wf = door
    _in(client, "zhang")
    _in(client, "li")
    Clock.t += 599
    wf.handle(IdleCheck())
    assert wf.state.inspectors == ("zhang", "li")
    wf.handle(Reading(Weight(net_g=500, stable=True)))  # the scale is no one at the kiosk
    Clock.t += 2
    wf.handle(IdleCheck())
    assert wf.state.inspectors == ()
    outs = [e["body"] for e in read_events(journal.db, types=("inspector.signed_out",))]
    assert [(b["inspector_id"], b["reason"]) for b in outs] == [("zhang", "idle"), ("li", "idle")]


def test_two_distinct_members_needed_names_in_the_ledger(
        door: tuple[TestClient, Workflow], journal: Journal) -> None:
    client, wf = door
    _in(client, "zhang")
    assert client.post("/api/deliveries", json={"order_id": VEG}).status_code == 200
    for grams, expect in ((15000, ["INSPECTORS_TOO_FEW"]), (15100, [])):
        wf.handle(Reading(Weight(net_g=0, stable=True)))
        client.post("/api/placement/line", json={"line_id": "1"})
        wf.handle(Reading(Weight(net_g=grams, stable=True)))
        pid = client.get("/api/state").json()["placement"]["placement_id"]
        r = client.post("/api/confirm", json={"placement_id": pid})
        assert r.json()["decision"]["reasons"] == expect
        _in(client, "wang")
    rows = list(ledger.rows(journal.db, _day(journal), ZoneInfo("Asia/Shanghai")))
    assert [r["inspectors"] for r in rows] == ["张伟", "王芳、张伟"]
    body = list(read_events(journal.db, types=("line.accepted",)))[-1]["body"]
    assert body["inspectors"] == ["wang", "zhang"] and body["inspector_names"] == ["王芳", "张伟"]


def _day(journal: Journal) -> date:
    ev = next(read_events(journal.db, types=("line.rejected",)))
    return parse_rfc3339(ev["at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()


def test_no_roster_nobody_signs_in(journal: Journal) -> None:
    wf = Workflow(journal, lambda: ORDERS, POLICY, now=lambda: NOW)
    res = wf.handle(SignIn("zhang", pin=PINS["zhang"]))
    assert res.refused is not None and res.refused.code == "NO_ROSTER"


def test_pin_hash_is_scrypt_and_checked() -> None:
    h = hash_pin("2468", ln=10)
    assert h.startswith("$scrypt$ln=10,r=8,p=1$")
    assert verify_pin("2468", h) and not verify_pin("2469", h) and not verify_pin("24a8", h)
    assert hash_pin("2468", ln=10) != h  # salted


@pytest.mark.parametrize("change,needle", [
    (lambda d: d["inspectors"].append(dict(d["inspectors"][0])), "duplicate zhang"),
    (lambda d: d["inspectors"][1].update(badge_uid="0001"), "badge_uid: used twice"),
    (lambda d: d["inspectors"][0].update(pin_hash="1234"), "pin_hash: not a $scrypt"),
    (lambda d: d["inspectors"][0].update(pin_hash=d["inspectors"][0]["pin_hash"].replace(
        "ln=10", "ln=30")), "pin_hash"),
    (lambda d: d["inspectors"][0].update(badge_uid=None, pin_hash=None), "cannot sign in"),
    (lambda d: d.update(station_id="other-station"), "not st-orders-01"),
    (lambda d: d["inspectors"][0].pop("role"), "role"),
])
def test_bad_roster_refused_whole(change: Any, needle: str) -> None:
    doc = demo_roster("st-orders-01", cost_ln=10)
    change(doc)
    with pytest.raises(RosterRefused, match=needle.replace("$", r"\$")):
        validate_roster(doc, station_id="st-orders-01")


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cfg, url = central_http(tmp_path, roster_dir=str(tmp_path / "rosters"))
    cfg.http.roster_dir.mkdir(parents=True)
    station_token(cfg, "st-orders-01", tmp_path)  # where test_sync_orders.station_cfg points
    server = serve_in_thread(cfg)
    yield url, cfg.http.roster_dir
    server.shutdown()


def test_central_serves_the_roster_uplink_caches_station_adopts(
        tmp_path: Path, central: tuple[str, Path]) -> None:
    url, folder = central
    sid = "st-orders-01"
    h = {"Authorization": "Bearer " + (tmp_path / f"{sid}.token").read_text().strip()}
    assert requests.get(f"{url}/v1/stations/{sid}/roster", timeout=5).status_code == 401
    r = requests.get(f"{url}/v1/stations/{sid}/roster", headers=h, timeout=5)
    assert r.status_code == 404
    doc = demo_roster(sid, cost_ln=10)
    (folder / f"{sid}.json").write_text(json.dumps(doc, ensure_ascii=False))
    r = requests.get(f"{url}/v1/stations/{sid}/roster", headers=h, timeout=5)
    assert r.status_code == 200 and r.headers["ETag"]
    assert requests.get(f"{url}/v1/stations/{sid}/roster", timeout=5,
                        headers={**h, "If-None-Match": r.headers["ETag"]}).status_code == 304
    (folder / "st-other-01.json").write_text(json.dumps(demo_roster("st-other-01"), ensure_ascii=False))
    assert requests.get(f"{url}/v1/stations/st-other-01/roster", headers=h, timeout=5).status_code == 403
    cfg = station_cfg(tmp_path, url)
    j = Journal(tmp_path / "st" / "station.db", Ed25519PrivateKey.generate(), sid)
    try:
        assert fetch_roster_once(cfg) == "cached"
        assert fetch_roster_once(cfg) == "unchanged"
        assert store.adopt_pending(j) is not None and store.adopt_pending(j) is None
        roster = store.roster_in_use(j.db)
        assert roster is not None and [i.name for i in roster.inspectors] == ["张伟", "李娜", "王芳"]
        (loaded,) = read_events(j.db, types=("roster.loaded",))
        assert loaded["body"]["counts"] == {"inspectors": 3}
        assert "scrypt" not in json.dumps(loaded)  # hashes stay out of the journal
        (folder / f"{sid}.json").write_text('{"schema": "acceptance.roster/1"}')
        assert fetch_roster_once(cfg) == "refused"
        store.adopt_pending(j)
        store.adopt_pending(j)
        alerts = [e["body"]["code"] for e in read_events(j.db, types=("alert.raised",))]
        assert alerts == ["ROSTER_REFUSED"]
        assert store.roster_in_use(j.db) == roster  # the good copy stays
    finally:
        j.close()


def test_roster_cli_import_show_and_hash(tmp_path: Path) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[station]\nstation_id = "roster-cli-01"\nschool_id = "s-001"\n'
                   f'data_dir = "{tmp_path}/data"\nkey_path = "{tmp_path}/station.key"\n')
    run_cli("keys", "init", "--config", str(cfg)).check_returncode()
    doc = tmp_path / "roster.json"
    doc.write_text(json.dumps(demo_roster("roster-cli-01", cost_ln=10), ensure_ascii=False))
    r = run_cli("roster", "import", str(doc), "--config", str(cfg))
    assert r.returncode == 0 and "3 inspectors" in r.stdout, r.stderr
    r = run_cli("roster", "show", "--config", str(cfg))
    assert "zhang\t张伟\t验收员\tbadge+PIN" in r.stdout and "scrypt" not in r.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(doc.read_text()), "station_id": "someone-else"}))
    r = run_cli("roster", "import", str(bad), "--config", str(cfg))
    assert r.returncode == 2 and "roster in use is unchanged" in r.stderr
    r = run_cli("roster", "hash-pin", input="8642\n")
    assert r.returncode == 0 and verify_pin("8642", r.stdout.strip())
    assert roster_from_doc(demo_roster("x-01", cost_ln=10), "s").by_badge["0002"].name == "李娜"
