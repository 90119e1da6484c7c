"""``acceptance-station central indicators``: one JSON line, warnings stored once, bad files refused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from central.platform import warnings as wt
from central.store import Store
from tests.platform_harness import DAY, Journal, put, utc
from tests.sync_harness import ROOT
from tests.waiting import wait_until


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "central", "indicators", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_cli_evaluates_a_day_and_refuses_bad_payments(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path}/central.db"
    store = Store(dsn)
    j = Journal()
    j.line(utc("06:40"), delivered=400)
    put(store, j)
    conf = tmp_path / "central.toml"
    conf.write_text(f'[store]\ndsn = "{dsn}"\n[http]\norders_dir = "{tmp_path}/orders"\n')
    r = _cli("--config", str(conf), "--date", DAY)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["day"] == DAY and len(out["new_warnings"]) == 1 and "delivery" not in out
    assert json.loads(_cli("--config", str(conf), "--date", DAY).stdout)["new_warnings"] == []
    assert [w["indicator"] for w in wt.warnings(store)] == ["price_above_order"]

    pay = tmp_path / "p.csv"
    pay.write_text("school_id,supplier_id,month,amount_fen\ns,p,11/2026,5\n")
    conf.write_text(conf.read_text() + f'[indicators]\npayments_csv = "{pay}"\n')
    r = _cli("--config", str(conf), "--date", DAY)
    assert r.returncode == 2 and "p.csv: line 2: month" in r.stderr
    assert _cli("--config", str(conf), "--date", "2026-13-01").returncode == 2
    assert len(wt.warnings(store)) == 1
    store.close()


def test_periodic_mode_evaluates_today_and_stops_on_sigterm(tmp_path: Path) -> None:
    from central.platform.config import IndicatorsSection
    from central.platform.engine import local_today
    dsn = f"sqlite:///{tmp_path}/central.db"
    store = Store(dsn)
    today = local_today(IndicatorsSection())
    j = Journal()
    j.line(utc(f"{today.isoformat()} 00:01"), delivered=400)
    put(store, j)
    wt.ensure_tables(store)
    conf = tmp_path / "central.toml"
    conf.write_text(f'[store]\ndsn = "{dsn}"\n[http]\norders_dir = "{tmp_path}/orders"\n'
                    "[indicators]\ninterval_s = 5\n")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "central", "indicators", "--config", str(conf),
                             "--periodic"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: len(wt.warnings(store)) == 1, 30, "the periodic run to store the warning")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wt.warnings(store)[0]["day"] == today.isoformat()
    store.close()
