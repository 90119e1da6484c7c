"""Update steps reach the journal through the station: in order, once each, never lost."""

from __future__ import annotations

import json
from pathlib import Path

from app import update_events
from edge.journal import Journal, read_events
from edge.verify import verify_db


def test_steps_journaled_in_order_and_removed(tmp_path: Path, journal: Journal) -> None:
    data = tmp_path / "data"
    for step, detail in (("started", {"previous": "1.0.0"}), ("installed", {"version": "1.1.0"}),
                         ("rolled_back", {"version": "1.1.0", "failures": ["kiosk: no answer"]})):
        update_events.write_request(data, step, detail)
    spool = update_events.spool_dir(data)
    (spool / "99999999999999999998-bad.json").write_text("{not json")
    (spool / "99999999999999999999-float.json").write_text('{"type": "update.x", "body": {"s": 1.5}}')
    (spool / ".half.json.tmp").write_text("{")  # a file being written is not read
    assert update_events.drain(journal, data) == 5
    events = [e for e in read_events(journal.db) if e["type"].startswith("update.")]
    assert [e["type"] for e in events] == ["update.started", "update.installed", "update.rolled_back",
                                           "update.unreadable", "update.unreadable"]
    assert events[2]["body"]["failures"] == ["kiosk: no answer"] and events[0]["body"]["request_id"]
    assert sorted(p.name for p in spool.iterdir()) == [".half.json.tmp"]
    assert update_events.drain(journal, data) == 0
    assert verify_db(journal.db, journal.key.public_key()).first_problem is None
    json.dumps(events)  # bodies are plain JSON


def test_nothing_pending(tmp_path: Path, journal: Journal) -> None:
    assert update_events.drain(journal, tmp_path / "none") == 0


def test_station_journals_steps_at_start_and_while_running(tmp_path: Path) -> None:
    """The real station: a step pending at start, and one handed over while it runs."""
    from app.station import Station
    from contract.keys import init_key
    from tests.factories import station_config
    from tests.waiting import wait_until

    cfg = station_config(tmp_path, scale={"simulate": True, "protocol": "ad"}, video={"enabled": False},
                         camera={"source": "synthetic", "width": 320, "height": 240, "fps": 5})
    init_key(cfg.station.key_path)
    update_events.write_request(cfg.station.data_dir, "started", {"previous": "0.1.0"})
    station = Station(cfg, sim_dir=tmp_path)
    station.start()
    try:
        assert station.journal is not None
        j = station.journal
        types = [e["type"] for e in read_events(j.db)]
        assert types.index("update.started") == types.index("station.started") + 1
        update_events.write_request(cfg.station.data_dir, "applied", {"version": "0.2.0"})
        wait_until(lambda: any(e["type"] == "update.applied" for e in read_events(j.db)),
                   what="update.applied journaled", timeout=15)
    finally:
        station.stop()
    assert not list(update_events.spool_dir(cfg.station.data_dir).glob("*.json"))


def test_open_delivery_read_from_the_journal(tmp_path: Path, journal: Journal) -> None:
    """With no station answering, the update reads the workflow state by replaying the journal."""
    from app.update_cli import delivery_open_in_journal

    db = tmp_path / "station.db"
    assert delivery_open_in_journal(db) is False
    journal.append("delivery.opened", {"delivery_id": "d1", "order_id": "o1", "supplier_id": "s1",
                                       "note": None, "inspectors": ["a", "b"]})
    assert delivery_open_in_journal(db) is True
    journal.append("delivery.closed", {"delivery_id": "d1", "order_id": "o1", "lines_accepted": [],
                                       "lines_rejected": [], "lines_not_delivered": []})
    assert delivery_open_in_journal(db) is False
    assert delivery_open_in_journal(tmp_path / "none.db") is None
