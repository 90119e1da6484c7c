"""The kiosk API's guard: trusted Host and Origin, the per-boot token, strict bodies.

Each case is a probe of the security audit (issue 17); a refused request must
change nothing: the same state, no journal event, no device effect.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from edge.journal import Journal
from edge.web.app import create_app
from edge.web.guard import TOKEN_HEADER, Access
from edge.workflow.driver import Workflow
from edge.workflow.model import Effect
from testbed.demo_data import PINS
from testbed.kiosk_client import token_from_page
from tests.test_web_api import DEVICES, KIOSK, NOW, ORDERS, POLICY, VEG
from tests.test_workflow import ROSTER

NOTE = {"dn": "DN-1", "order_id": VEG, "supplier_id": "sup-veg-01",
        "lines": [{"line_id": "1", "qty": "15", "unit": "kg", "production_date": "2026-11-27"}]}


@pytest.fixture
def effects() -> list[Effect]:
    return []


@pytest.fixture
def wf(journal: Journal, effects: list[Effect]) -> Workflow:
    return Workflow(journal, lambda: ORDERS, POLICY, now=lambda: NOW, on_effect=effects.append,
                    roster=lambda: ROSTER)


@pytest.fixture
def raw(wf: Workflow) -> TestClient:
    """A client without the token: what another page or program would be."""
    return TestClient(create_app(wf, lambda: ORDERS, lambda: DEVICES, access=Access(port=8080)),
                      base_url=KIOSK)


def _token(c: TestClient) -> dict[str, str]:
    return {TOKEN_HEADER: token_from_page(c.get("/").text)}


def _open(c: TestClient) -> None:
    t = _token(c)
    for who in ("zhang", "li"):
        assert c.post("/api/inspectors", json={"inspector_id": who, "pin": PINS[who]},
                      headers=t).status_code == 200
    assert c.post("/api/deliveries", json={"order_id": VEG}, headers=t).status_code == 200


def _unchanged(c: TestClient, journal: Journal, effects: list[Effect], send: Any) -> Any:
    before, seq, n = c.get("/api/state").json(), journal.last_seq(), len(effects)
    r = send()
    assert c.get("/api/state").json() == before
    assert journal.last_seq() == seq and len(effects) == n
    return r


FORGED = [
    ("no token", {}),
    ("wrong token", {TOKEN_HEADER: "x" * 43}),
    ("foreign host", {"Host": "attacker.example"}),
    ("foreign host, kiosk port", {"Host": "attacker.example:8080"}),
    ("kiosk host, other port", {"Host": "127.0.0.1:9999"}),
    ("foreign origin", {"Origin": "http://attacker.example"}),
    ("null origin", {"Origin": "null"}),
    ("kiosk host, other port origin", {"Origin": "http://127.0.0.1:9999"}),
]


@pytest.mark.parametrize("path", ["/api/deliveries/current/close", "/api/scale/tare"])
@pytest.mark.parametrize("why,headers", FORGED, ids=[f[0] for f in FORGED])
def test_forged_requests_are_refused_and_change_nothing(raw: TestClient, journal: Journal,
                                                        effects: list[Effect], path: str,
                                                        why: str, headers: dict[str, str]) -> None:
    _open(raw)
    token = {} if why in ("no token", "wrong token") else _token(raw)
    r = _unchanged(raw, journal, effects, lambda: raw.post(path, headers={**token, **headers}))
    assert r.status_code == 403, (why, r.text)
    assert r.json()["error"] in ("KIOSK_TOKEN", "HOST_NOT_TRUSTED", "ORIGIN_NOT_TRUSTED")


def test_made_up_inspector_with_a_foreign_host_is_refused(raw: TestClient, journal: Journal,
                                                          effects: list[Effect]) -> None:
    headers = {**_token(raw), "Host": "attacker.example"}
    r = _unchanged(raw, journal, effects, lambda: raw.post(
        "/api/inspectors", json={"inspector_id": "nobody"}, headers=headers))
    assert r.status_code == 403


def test_reads_need_a_trusted_host_too(raw: TestClient) -> None:
    """DNS rebinding: attacker.example resolving to 127.0.0.1 reads nothing, not even the token."""
    for path in ("/", "/api/state", "/openapi.json"):
        r = raw.get(path, headers={"Host": "attacker.example:8080"})
        assert r.status_code == 403 and "kiosk-token" not in r.text
    assert raw.get("/api/state", headers={"Host": "localhost:8080"}).status_code == 200


def test_the_token_is_per_boot_and_the_page_is_not_cached(wf: Workflow) -> None:
    a = TestClient(create_app(wf, lambda: ORDERS, lambda: DEVICES, access=Access(port=8080)),
                   base_url=KIOSK)
    b = TestClient(create_app(wf, lambda: ORDERS, lambda: DEVICES, access=Access(port=8080)),
                   base_url=KIOSK)
    page = a.get("/")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert _token(a) != _token(b) and len(_token(a)[TOKEN_HEADER]) >= 40
    r = b.post("/api/inspectors", json={"inspector_id": "zhang"}, headers=_token(a))
    assert r.status_code == 403 and r.json()["error"] == "KIOSK_TOKEN"


def _body(raw: TestClient, text: str | bytes, ctype: str = "application/json",
          path: str = "/api/confirm") -> Any:
    return raw.post(path, content=text, headers={**_token(raw), "Content-Type": ctype})


STRICT = [
    ('{"placement_id": NaN}', "NaN"),
    ('{"placement_id": Infinity}', "Infinity"),
    ('{"placement_id": -Infinity}', "Infinity"),
    ('{"placement_id": 1e309}', "out of range"),
    ('{"placement_id": 9007199254740993}', "out of range"),
    ('{"placement_id": 1' + "0" * 5000 + "}", "out of range"),
    ('{"placement_id": 0, "placement_id": 1}', "twice"),
    ('{"x": ' + "[" * 50 + "]" * 50 + "}", "nested"),
    ('{"x": ' + "[" * 5000 + "]" * 5000 + "}", "nested"),
    ('{"inspector_id": "\\ud800"}', "surrogate"),
    ("{", "not valid JSON"),
]


@pytest.mark.parametrize("text,needle", STRICT, ids=[n for _, n in STRICT])
def test_strict_json_refused_with_422(raw: TestClient, journal: Journal, effects: list[Effect],
                                      text: str, needle: str) -> None:
    r = _unchanged(raw, journal, effects, lambda: _body(raw, text))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "BAD_JSON" and needle in r.json()["message"]


def test_grams_and_ids_beyond_the_range_are_422(raw: TestClient) -> None:
    for path, body in (("/api/confirm", {"placement_id": 2**53 + 1}),
                       ("/api/placement/pieces", {"pieces": 10**6}),
                       ("/api/placement/pieces", {"pieces": "5"}),
                       ("/api/placement/partial", {"partial": 1}),
                       ("/api/inspectors", {"inspector_id": "a\nb"})):
        r = raw.post(path, json=body, headers=_token(raw))
        assert r.status_code == 422, (path, body, r.text)


def test_body_size_and_type(raw: TestClient, journal: Journal, effects: list[Effect]) -> None:
    big = json.dumps({"inspector_id": "x" * 20000})
    r = _unchanged(raw, journal, effects, lambda: _body(raw, big, path="/api/inspectors"))
    assert r.status_code == 413 and r.json()["error"] == "BODY_TOO_LARGE"
    r = _unchanged(raw, journal, effects, lambda: _body(
        raw, '{"inspector_id": "zhang"}', "text/plain", "/api/inspectors"))
    assert r.status_code == 415
    r = _unchanged(raw, journal, effects, lambda: _body(
        raw, "inspector_id=zhang", "application/x-www-form-urlencoded", "/api/inspectors"))
    assert r.status_code == 415


def test_a_20_mib_delivery_note_is_refused(raw: TestClient, journal: Journal,
                                          effects: list[Effect]) -> None:
    _open_inspectors(raw)
    note = {**NOTE, "lines": [{**NOTE["lines"][0], "batch": "B" * (20 << 20)}]}  # type: ignore[dict-item]
    r = _unchanged(raw, journal, effects, lambda: raw.post(
        "/api/deliveries", json={"order_id": VEG, "note": note}, headers=_token(raw)))
    assert r.status_code == 413


def _open_inspectors(c: TestClient) -> None:
    for who in ("zhang", "li"):
        c.post("/api/inspectors", json={"inspector_id": who, "pin": PINS[who]}, headers=_token(c))


def _note_line(**extra: Any) -> dict[str, Any]:
    return {**NOTE, "lines": [{**NOTE["lines"][0], **extra}]}  # type: ignore[dict-item]


BAD_NOTES = [
    ("production_date not a date", _note_line(production_date="not-a-date"), "production_date"),
    ("production_date not real", _note_line(production_date="2026-02-30"), "not a real date"),
    ("expiry before production", _note_line(expiry_date="2026-11-01"), "expiry_date before"),
    ("lines not a list", {**NOTE, "lines": "x"}, "lines"),
    ("line without line_id", {**NOTE, "lines": [{"qty": "1", "unit": "kg"}]}, "line_id"),
    ("unknown field", {**NOTE, "extra": 1}, "extra"),
    ("note for another order", {**NOTE, "order_id": "PO-20261128-0099"}, "is for"),
    ("over 4 KiB", {**NOTE, "lines": [{"line_id": str(i), "qty": "1", "unit": "kg",
                                       "batch": "B" * 40} for i in range(60)]}, "larger than"),
]


@pytest.mark.parametrize("why,note,needle", BAD_NOTES, ids=[b[0] for b in BAD_NOTES])
def test_a_bad_delivery_note_is_422_and_nothing_is_journaled(
        raw: TestClient, journal: Journal, effects: list[Effect], why: str,
        note: dict[str, Any], needle: str) -> None:
    _open_inspectors(raw)
    r = _unchanged(raw, journal, effects, lambda: raw.post(
        "/api/deliveries", json={"order_id": VEG, "note": note}, headers=_token(raw)))
    assert r.status_code == 422, (why, r.text)
    assert "note" in r.text and needle in r.text, r.text


def test_a_good_delivery_note_opens_the_delivery(raw: TestClient, journal: Journal) -> None:
    _open_inspectors(raw)
    r = raw.post("/api/deliveries", json={"order_id": VEG, "note": NOTE}, headers=_token(raw))
    assert r.status_code == 200, r.text
    assert r.json()["state"]["delivery"]["order_id"] == VEG
