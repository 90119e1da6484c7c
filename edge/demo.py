"""``acceptance-station demo``: the closest thing to a running station so far.

Until the station process exists (kiosk, devices, uplink), the demo runs a
scripted morning through the real parts that do exist: a config and key in a
state folder, today's demo orders imported, every delivered line decided by the
matching rules and committed to the signed journal, the chain verified, and the
day's ledger written as CSV.
"""

from __future__ import annotations

import argparse
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.matching.types import Observation

CONFIG_TEMPLATE = """\
[station]
station_id = "demo-station-01"
school_id = "demo-school"
data_dir = "{data}"
key_path = "{key}"
"""


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run a scripted morning on the real journal and rules")
    p.add_argument("--dir", type=Path, default=Path("var/demo"), help="state folder")
    p.set_defaults(handler=run)


def _script(day_at: datetime, orders: dict[str, Any]) -> list[tuple[str, Observation, str]]:
    """(what it shows, observation, expected outcome) for the scripted morning."""
    o1, o2, o3 = (orders[k] for k in sorted(orders))
    two = ("insp-zhang", "insp-li")

    def ob(order: Any, line: str, minutes: int, **kw: Any) -> Observation:
        return Observation(order_id=order.order_id, supplier_id=order.supplier.supplier_id,
                           inspectors=two, line_id=line, at=day_at + timedelta(minutes=minutes),
                           **kw)
    return [
        ("上海青 30 斤，实收 30.4 斤", ob(o1, "1", 0, net_g=15200), "accepted"),
        ("土豆超重 (27 kg > 25 kg + 5%)", ob(o1, "2", 4, net_g=27000), "rejected"),
        ("西红柿欠重 (18 kg < 20 kg − 3%)", ob(o1, "3", 7, net_g=18000), "rejected"),
        ("鸡蛋 10 箱", ob(o1, "4", 9, net_g=18050, pieces=10), "accepted"),
        ("猪肉温度过高", ob(o2, "1", 20, net_g=12100, temperature_c=_dec("10.5")), "rejected"),
        ("鸡腿，仅一名验收员", replace(ob(o2, "2", 25, net_g=16000, temperature_c=_dec("-19"),
                                         batch="B2411"), inspectors=("insp-zhang",)),
         "rejected"),
        ("牛奶单价高于订单", ob(o2, "3", 30, pieces=6, unit_price_fen=7200, batch="M1127",
                               temperature_c=_dec("4.5"), expiry_date=day_at.date() + timedelta(5)),
         "rejected"),
        ("大豆油：供货商许可证过期", ob(o3, "1", 60, pieces=4, batch="Y2608"), "rejected"),
    ]


def _dec(text: str) -> Any:
    from decimal import Decimal
    return Decimal(text)


def run(args: argparse.Namespace) -> int:
    from edge import ledger
    from edge.commands import open_journal, policy_from_config
    from edge.config import config_digest, load_config
    from edge.demo_data import demo_orders
    from edge.keys import init_key, public_hex
    from edge.matching.rules import decide
    from edge.orders import store
    from edge.records import Measurement, line_event
    from edge.verify import verify_db

    state = args.dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    cfg_path = state / "station.toml"
    if not cfg_path.exists():
        cfg_path.write_text(CONFIG_TEMPLATE.format(data=state / "data", key=state / "station.key"))
    cfg = load_config(cfg_path)
    if not cfg.station.key_path.exists():
        init_key(cfg.station.key_path)
    tz = ZoneInfo(cfg.station.timezone)
    now_local = datetime.now(UTC).astimezone(tz)
    day = now_local.date()
    j = open_journal(cfg)
    from edge import __version__
    j.append("station.started", {"version": __version__, "config_digest": config_digest(cfg),
                                 "public_key": public_hex(j.key)})
    store.adopt(j, demo_orders(cfg.station.station_id, day.isoformat()), etag=None, source="demo")
    orders = store.orders_in_use(j.db, day.isoformat())
    policy = policy_from_config(cfg)
    start = datetime.combine(day, datetime.min.time(), tz).replace(hour=6, minute=40)
    ok = True
    print(f"demo station {cfg.station.station_id}, {day}, journal {cfg.station.db_path}")
    for what, obs, expected in _script(start, orders):
        order = orders[obs.order_id]
        decision = decide(order, obs, policy)
        kind, body = line_event(order, obs, decision,
                                Measurement(net_g=obs.net_g, pieces=obs.pieces, stable=True),
                                delivery_id=str(uuid.uuid4()), clip_id=None)
        ev = j.append(kind, body)
        mark = "✓" if decision.outcome == expected else "✗ UNEXPECTED"
        ok &= decision.outcome == expected
        print(f"  seq {ev['seq']:>4} {decision.outcome:<8} {mark} {what}"
              + (f"  [{', '.join(decision.reasons)}]" if decision.reasons else ""))
    res = verify_db(j.db, j.key.public_key())
    print(f"journal: {res.count} events, " + ("chain verifies" if res.first_problem is None
                                               else f"BROKEN: {res.first_problem}"))
    out = state / f"ledger-{day}.csv"
    out.write_text(ledger.to_csv(list(ledger.rows(j.db, day, tz))), encoding="utf-8", newline="")
    print(f"ledger: {out}")
    return 0 if ok and res.first_problem is None else 1
