"""The immediate path: a station's alert (or central's chain alert) is raised and delivered within a
poll of its arrival, not at the next full evaluation; once, whatever runs afterwards or beside it."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from central.platform import deliveries, engine, service
from central.platform import warnings as wt
from central.platform.config import IndicatorsSection
from central.platform.data import rfc3339
from central.store import Store
from tests.platform_harness import STATION, Journal, at_once, put, store
from tests.sync_harness import ROOT
from tests.test_platform_delivery import config, world
from tests.waiting import wait_until

__all__ = ["store", "world"]


def _alert_now(j: Journal, code: str = "RETEST_AFTER_REJECT") -> int:
    """An alert that happened 3 s ago and arrived now."""
    return j.add("alert.raised", datetime.now(UTC) - timedelta(seconds=3),
                 {"code": code, "message": "拒收后复检", "refs": [1]}, delay=timedelta(seconds=3))


def test_an_arrived_alert_is_raised_and_sent_at_once_then_never_again(store: Store,
                                                                        world: dict[str, Any]) -> None:
    cfg = config(world, store.dsn)
    looker = service.Immediate(cfg)
    wt.ensure_tables(store)
    assert looker.look(store) == {"new_warnings": []}
    j = Journal()
    j.line(datetime.now(UTC) - timedelta(seconds=20), delivered=999, delay=timedelta(seconds=1))
    seq = _alert_now(j)
    _alert_now(j, "CLIP_MISSING")  # not an immediate indicator
    put(store, j)
    out = looker.look(store)
    assert len(out["new_warnings"]) == 1 and out["delivery"] == {"sent": 4, "failed": 0}
    [got] = world["got"]
    assert got["indicator"] == "retest_after_reject" and got["evidence"]["events"][0]["seq"] == seq
    assert looker.look(store) == {"new_warnings": []}  # the overlap re-reads it: known, not resent
    day = engine.local_today(cfg.indicators)
    full = service.cycle(store, cfg, day)  # the full cycle finds the same warning (same id) + the price
    assert got["warning_id"] not in full["new_warnings"] and len(full["new_warnings"]) == 1
    assert full["delivery"] == {"sent": 4, "failed": 0}
    assert sorted(g["indicator"] for g in world["got"]) == ["price_above_order", "retest_after_reject"]


def test_the_first_look_raises_what_arrived_while_no_engine_ran(store: Store) -> None:
    """Up to ``FIRST_LOOK_S`` back: an engine down for a day misses nothing it can still raise."""
    j = Journal()
    now = datetime.now(UTC)
    for hours in (30, 50):
        j.add("alert.raised", now - timedelta(hours=hours, seconds=5),
              {"code": "RETEST_AFTER_REJECT", "message": f"{hours} h", "refs": [1]},
              delay=timedelta(seconds=5))
    put(store, j)
    out = service.Immediate(config_without_delivery(store.dsn)).look(store)
    assert [w["message"] for w in wt.warnings(store)] == ["30 h"] and len(out["new_warnings"]) == 1


def config_without_delivery(dsn: str) -> Any:
    from central.config import CentralConfig
    return CentralConfig.model_validate({"store": {"dsn": dsn}})


def test_a_chain_alert_of_ingest_is_raised_at_once(store: Store) -> None:
    wt.ensure_tables(store)
    with store.transaction():
        store.add_alert(STATION, 7, "FORK", "seq 7: fork")
    since = rfc3339(datetime.now(UTC) - timedelta(minutes=1))
    found = engine.run_arrived(store, IndicatorsSection(), since)
    assert [(f.indicator, f.evidence["code"], f.evidence["seq"]) for f in found] == [
        ("chain_integrity", "FORK", 7)]
    assert engine.run_arrived(store, IndicatorsSection(), since) == []  # stored already


def test_two_lookers_store_and_send_once(store: Store, world: dict[str, Any]) -> None:
    cfg = config(world, store.dsn)
    world["fail_first"].clear()
    wt.ensure_tables(store)
    deliveries.ensure(store)
    j = Journal()
    for _ in range(5):
        _alert_now(j)
    put(store, j)
    outs = at_once(store.dsn, lambda own: service.Immediate(cfg).look(own))
    assert sorted(len(o["new_warnings"]) for o in outs) in ([0, 5], [1, 4], [2, 3])
    assert len(world["got"]) == 5 and len({g["warning_id"] for g in world["got"]}) == 5
    assert store.rows("SELECT count(*), sum(attempts) FROM platform_deliveries") == [(20, 20)]


def test_periodic_process_sends_an_alert_its_full_cycle_would_not(tmp_path: Path,
                                                                  world: dict[str, Any]) -> None:
    """The real process (a 300 s full interval, a 0.2 s poll): an alert of three days ago arriving now
    is outside the full cycle's days (today, yesterday); only the immediate path can send it."""
    dsn = f"sqlite:///{tmp_path}/central.db"
    s = Store(dsn)
    (tmp_path / "hook.key").write_bytes(b"hook-secret-0123456789")
    conf = tmp_path / "central.toml"
    conf.write_text(f'[broker]\nport = {world["broker"].port}\n[store]\ndsn = "{dsn}"\n'
                    f'[http]\norders_dir = "{tmp_path}/orders"\n'
                    "[indicators]\ninterval_s = 300\nimmediate_poll_s = 0.2\n"
                    "[warnings]\nenabled = true\n[warnings.schools.'*']\nmqtt = false\n"
                    "[[warnings.schools.'*'.webhooks]]\n"
                    f'url = "http://127.0.0.1:{world["http"].server_port}/h"\n'
                    f'secret_file = "{tmp_path}/hook.key"\n')
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "central", "indicators", "--config", str(conf),
                             "--periodic"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        j = Journal()
        j.add("alert.raised", datetime.now(UTC) - timedelta(days=3),
              {"code": "TEMP_TYPED_AFTER_REJECT", "message": "拒收后手输温度", "refs": [1]},
              delay=timedelta(days=3))
        put(s, j)
        wait_until(lambda: len(world["got"]) == 1, 60, "the webhook to get the alert's warning")
        assert world["got"][0]["indicator"] == "temp_typed_after_reject"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        s.close()
    assert date.fromisoformat(world["got"][0]["day"]) < date.today() - timedelta(days=1)
