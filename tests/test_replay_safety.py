"""Replay never bricks a station: an event it cannot apply is skipped with one alert.

The audit journaled a delivery note with ``production_date: "not-a-date"`` through
the API; every later ``run`` died in replay. Here each kind of bad body is put
into the journal directly (the API refuses them now), and the real station
process must still start, serve, raise one ``alert.raised`` per bad event (not
one per start) and show them in ``doctor``.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from app.config import load_config
from app.doctor import check_replay
from contract.keys import load_key
from edge.journal import Journal, read_events
from edge.workflow.machine import Skipped, replay
from testbed.broker import free_port
from tests.conftest import CLI
from tests.factories import write_station_config
from tests.waiting import wait_until

STATION_ID = "replay-station-01"
SUPPLIER = {"supplier_id": "sup-0031", "name": "绿源", "address": "杭州", "contact": "王",
            "license_no": "JY1"}


def opened(delivery_id: str | None = "d-1", **note: Any) -> dict[str, Any]:
    n = {"dn": "DN-1", "order_id": "PO-1", "supplier_id": "sup-0031",
         "lines": [{"line_id": "1", "qty": "1", "unit": "kg", **note}]}
    body: dict[str, Any] = {"order_id": "PO-1", "supplier_id": "sup-0031", "supplier": SUPPLIER,
                            "note": n, "inspectors": ["zhang", "li"]}
    if delivery_id is not None:
        body["delivery_id"] = delivery_id
    return body


def line(kind: str = "line.accepted", **changes: Any) -> tuple[str, dict[str, Any]]:
    body = {"delivery_id": "d-good", "line_id": "1", "measured": {"net_g": 1000},
            "reasons": [], "checks": [], "item": {"name": "青菜"}, **changes}
    return kind, body


# (type, body, replay can apply it)
EVENTS: list[tuple[str, dict[str, Any], bool]] = [
    ("delivery.opened", opened(production_date="not-a-date"), False),
    ("delivery.opened", opened(expiry_date="2026-02-30"), False),
    ("delivery.opened", {**opened(), "note": {**opened()["note"], "lines": "x"}}, False),
    ("delivery.opened", opened(delivery_id=None), False),
    ("delivery.opened", opened(unit_price_fen="12"), False),
    ("delivery.opened", opened("d-good"), True),
    (*line(measured={"net_g": "12"}), False),
    (*line(measured=None), False),
    (*line("line.rejected", reasons=[{"x": 1}]), False),
    (*line("line.rejected", checks="x"), False),
    (*line(), True),
    ("delivery.closed", {"delivery_id": "d-good", "lines_not_delivered": [1]}, False),
    ("delivery.closed", {"lines_accepted": []}, False),
]
BAD = [i + 1 for i, (_, _, ok) in enumerate(EVENTS) if not ok]


def test_replay_skips_what_it_cannot_apply() -> None:
    events = [{"seq": i + 1, "type": t, "body": b} for i, (t, b, _) in enumerate(EVENTS)]
    skipped: list[Skipped] = []
    state = replay(events, skipped)
    assert [s.seq for s in skipped] == BAD
    assert "not-a-date" in skipped[0].error
    assert state.delivery is not None and state.delivery.delivery_id == "d-good"
    assert state.delivery.progress["1"].accepted_g == 1000
    assert state.last is not None and state.last["item"] == "青菜"


def _config(tmp_path: Path, port: int) -> Path:
    cfg = write_station_config(tmp_path, STATION_ID, web={"port": port, "hall_port": 0},
                               scale={"simulate": True}, video={"enabled": False},
                               camera={"source": "synthetic", "width": 320, "height": 240,
                                       "fps": 5})
    subprocess.run([*CLI, "keys", "init", "--config", str(cfg)], check=True, capture_output=True)
    return cfg


def _serve_once(cfg: Path, url: str) -> dict[str, Any]:
    """Start the real station process, read its state, stop it with SIGTERM."""
    p = subprocess.Popen([*CLI, "run", "--config", str(cfg)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)

    def served() -> dict[str, Any] | None:
        assert p.poll() is None, p.communicate()[1][-3000:]
        try:
            r = requests.get(url + "/api/state", timeout=1)
        except requests.ConnectionError:
            return None
        return dict(r.json()) if r.ok else None

    try:
        return wait_until(served, 30, "the station to serve")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.mark.timeout(180)
def test_the_real_station_starts_over_bad_events_and_alerts_once(tmp_path: Path) -> None:
    port = free_port()
    cfg_path = _config(tmp_path, port)
    cfg = load_config(cfg_path)
    cfg.station.data_dir.mkdir(parents=True)
    j = Journal(cfg.station.db_path, load_key(cfg.station.key_path), STATION_ID)
    first = j.last_seq() + 1
    for t, body, _ in EVENTS:
        j.append(t, body)
    j.close()
    bad = [first - 1 + i for i in BAD]
    url = f"http://127.0.0.1:{port}"

    for _ in range(2):  # the second start raises no new alert
        state = _serve_once(cfg_path, url)
        assert state["delivery"]["delivery_id"] == "d-good"
        assert state["inspectors"] == ["zhang", "li"]
        j = Journal(cfg.station.db_path, load_key(cfg.station.key_path), STATION_ID)
        alerts = [e for e in read_events(j.db, types=("alert.raised",))
                  if e["body"]["code"] == "REPLAY_SKIPPED"]
        j.close()
        assert sorted(a["body"]["refs"][0] for a in alerts) == bad
    assert "not-a-date" in next(a for a in alerts if a["body"]["refs"] == [bad[0]])["body"]["message"]

    finding = check_replay(cfg)
    assert not finding.ok
    assert finding.detail.startswith(f"{len(bad)} journal event(s)")
    assert f"seq {bad[0]} (delivery.opened)" in finding.detail
    r = subprocess.run([*CLI, "verify", "--db", str(cfg.station.db_path)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout
