"""A PIN lockout survives a restart of the real station process (a guesser cannot reboot for more tries)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.journal import Journal
from testbed.demo_data import PINS
from tests.station_proc import SimProcess, StationProc


@pytest.fixture
def station(tmp_path: Path) -> Iterator[StationProc]:
    link = tmp_path / "scale"
    sim = SimProcess(link)
    st = StationProc(tmp_path, "evidence-station-01", scale_link=link, config={
        "school_id": "evidence-school", "scale": {"silence_timeout_ms": 1000},
        "receiving": {"pin_attempts": 3, "lockout_s": 600}})
    try:
        st.start().up()
        st.import_orders()
        yield st
    finally:
        st.close()
        sim.stop()


def _pin(st: StationProc, who: str, pin: str) -> tuple[int, str]:
    r = st.post("/api/inspectors", {"inspector_id": who, "pin": pin})
    return r.status_code, (r.json().get("error") or "") if r.status_code != 200 else ""


def test_wrong_pins_and_lockout_survive_a_kill(station: StationProc) -> None:
    wrong = "0000" if PINS["li"] != "0000" else "1111"
    assert _pin(station, "li", wrong) == (409, "WRONG_PIN")
    assert _pin(station, "li", wrong) == (409, "WRONG_PIN")
    station.kill()  # two wrong PINs counted, then the plug pulled
    station.start().up()
    assert _pin(station, "li", wrong) == (409, "INSPECTOR_LOCKED")  # the third in a row locks
    assert _pin(station, "li", PINS["li"]) == (409, "INSPECTOR_LOCKED")
    station.kill()
    station.start().up()
    # Locked still after the restart, even with the right PIN; other people are not locked.
    assert _pin(station, "li", PINS["li"]) == (409, "INSPECTOR_LOCKED")
    assert _pin(station, "zhang", PINS["zhang"]) == (200, "")
    alerts = [e["body"] for e in station.events("alert.raised") if e["body"]["code"] == "INSPECTOR_LOCKED"]
    assert [a["inspector_id"] for a in alerts] == ["li"]
    assert [e["body"]["inspector_id"] for e in station.events("inspector.signed_in")] == ["zhang"]


def test_stored_lockouts_never_outlast_the_configured_time(journal: Journal) -> None:
    """Saved on one clock, loaded on another: the time left carries over, at most ``lockout_s``;
    an expired lock is dropped, a running count kept."""
    from edge.roster import lockout

    lockout.ensure_tables(journal.db)
    lockout.save(journal, {"li": (0, 1300.0), "wang": (2, 0.0), "old": (0, 900.0)},
                 mono=1000.0, wall=50_000.0)
    # Restarted 100 s later (a new monotonic clock): li has 200 s left.
    assert lockout.load(journal.db, mono=5.0, wall=50_100.0, lockout_s=300) == {
        "li": (0, 205.0), "wang": (2, 0.0)}
    # The wall clock set back a day: never more than lockout_s.
    assert lockout.load(journal.db, mono=5.0, wall=50_000.0 - 86_400, lockout_s=300)["li"] == (0, 305.0)
    # Long after: li's lock is over.
    assert "li" not in lockout.load(journal.db, mono=5.0, wall=60_000.0, lockout_s=300)
