"""The decide, ledger and demo commands, run as a technician would."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

from edge.journal import Journal
from edge.matching.rules import decide
from edge.matching.types import Policy
from edge.orders.model import observation_from_json, orders_from_doc
from edge.records import Measurement, line_event
from testbed.demo_data import demo_orders
from tests.cli_inproc import run_cli

DAY = "2026-11-28"


def _decide(tmp_path: Path, obs: Any, *extra: str) -> subprocess.CompletedProcess[str]:
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps(demo_orders("hz-xh-zjg-01", DAY), ensure_ascii=False))
    o = tmp_path / "obs.json"
    o.write_text(obs if isinstance(obs, str) else json.dumps(obs, ensure_ascii=False))
    return run_cli("decide", "--orders", str(orders), "--observation", str(o), *extra)


OBS = {"order_id": "PO-20261128-0012", "line_id": "1", "supplier_id": "sup-0031",
       "net_g": 15900, "inspectors": ["zhang", "li"], "at": "2026-11-27T23:10:00.000Z"}


def test_decide_rejects_with_reason_and_exits_0(tmp_path: Path) -> None:
    r = _decide(tmp_path, OBS)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"outcome", "reasons", "checks"}
    assert out["outcome"] == "rejected" and out["reasons"] == ["QTY_OVER"]
    q = next(c for c in out["checks"] if c["check"] == "quantity")
    assert "实收 31.8 斤，订单 30 斤" in q["detail"]


def test_decide_accepts(tmp_path: Path) -> None:
    r = _decide(tmp_path, {**OBS, "net_g": 15000})
    assert r.returncode == 0 and json.loads(r.stdout)["outcome"] == "accepted"


def test_decide_today_overrides(tmp_path: Path) -> None:
    obs = {k: v for k, v in OBS.items() if k != "at"} | {"net_g": 15000,
                                                         "expiry_date": "2026-12-01"}
    r = _decide(tmp_path, obs)
    assert r.returncode == 2 and "--today" in r.stderr
    r = _decide(tmp_path, obs, "--today", "2026-12-02")
    assert json.loads(r.stdout)["reasons"] == ["EXPIRED"]


def test_decide_invalid_input_exit_2(tmp_path: Path) -> None:
    for bad, needle in [
        ("{not json", "not valid JSON"),
        (json.dumps({**OBS, "net_g": 15.9}), "$.net_g"),
        (json.dumps({**OBS, "temperature_c": 4.5}), "$.temperature_c"),
        (json.dumps({k: v for k, v in OBS.items() if k != "line_id"}), "line_id"),
        (json.dumps({**OBS, "color": "red"}), "color"),
        (json.dumps({**OBS, "expiry_date": "2026-02-30"}), "day is out of range"),
    ]:
        r = _decide(tmp_path, bad)
        assert r.returncode == 2, (bad, r.stdout)
        assert needle in r.stderr, (needle, r.stderr)
    r = run_cli("decide", "--orders", "/nonexistent", "--observation", "/x")
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_ledger_csv_for_excel(tmp_path: Path, journal: Journal) -> None:
    doc = demo_orders("test-station-01", DAY)
    orders = orders_from_doc(doc)
    obs = observation_from_json(OBS | {"batch": "B2411", "production_date": "2026-11-27"})
    order = orders[obs.order_id]
    d = decide(order, obs, Policy())
    kind, body = line_event(order, obs, d, Measurement(net_g=obs.net_g, stable=True,
                                                       protocol="mt-sics", raw="S S 7.950 kg"),
                            delivery_id=str(uuid.uuid4()), clip_id=None)
    journal.append(kind, body)
    today = journal.clock.now()[:10]
    out = tmp_path / "ledger.csv"
    r = run_cli("ledger", "--db", str(journal.db.execute(
        "PRAGMA database_list").fetchone()[2]), "--date", today, "--timezone", "UTC",
        "--output", str(out))
    assert r.returncode == 0, r.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["食品名称"] == "上海青" and row["供货者名称"].startswith("杭州绿源")
    assert row["验收结论"] == "不合格（退货）" and row["不合格原因"] == "数量超出订单上限"
    assert row["批号"] == "B2411" and row["生产日期"] == "2026-11-27"
    assert (row["实收数量"], row["单位"], row["订购数量"]) == ("31.8", "斤", "30 斤")
    for col in ("规格", "保质期至", "进货日期", "供货者地址", "联系方式", "产地", "查验证明文件",
                "感官检查", "快检结果", "测温方式", "处置情况"):
        assert col in row
    assert row["处置情况"] == "未处置" and row["感官检查"] == "未检"
    r = run_cli("ledger", "--db", "/nonexistent.db", "--date", today)
    assert r.returncode == 2
    r = run_cli("ledger", "--db", str(out), "--date", "2026-13-01")
    assert r.returncode == 2 and "not a date" in r.stderr


def test_ledger_quantity_reads_as_the_hall_shows_it(journal: Journal) -> None:
    """An odd weight in 斤 (15123 g = 30.246 斤): the ledger rounds it to 0.01 as the hall and
    central's pages do, through the one function, and keeps the exact grams in their column."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from contract.record_text import quantity_text
    from edge import ledger

    order = orders_from_doc(demo_orders("test-station-01", DAY))[OBS["order_id"]]
    obs = observation_from_json(OBS | {"net_g": 15123})
    kind, body = line_event(order, obs, decide(order, obs, Policy()),
                            Measurement(net_g=15123, stable=True, protocol="ad", raw="ST,GS,15.123kg"),
                            delivery_id=str(uuid.uuid4()), clip_id=None)
    journal.append(kind, body)
    (row,) = ledger.rows(journal.db, date.fromisoformat(journal.clock.now()[:10]), ZoneInfo("UTC"))
    assert (row["quantity"], row["unit"], row["net_g"]) == ("30.25", "斤", 15123)
    assert f"{row['quantity']} {row['unit']}" == quantity_text(body)
