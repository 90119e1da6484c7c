"""Decisions per second for a 200-line order (pure matching rules, one core).

The peer figure is the same decision with the order's line index rebuilt every
time (what a naive linear lookup would cost). Ends with one JSON line.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime

from edge.matching.rules import decide
from edge.matching.types import Observation, Order, Policy
from edge.orders.model import orders_from_doc, validate_orders
from testbed.demo_data import demo_orders


def big_order() -> Order:
    doc = demo_orders("bench-station", "2026-11-28")
    o = doc["orders"][0]
    template = o["lines"][0]
    o["lines"] = [{**template, "line_id": str(i), "item": {**template["item"], "code": f"veg-{i}"}}
                  for i in range(1, 201)]
    validate_orders(doc)
    return orders_from_doc(doc)[o["order_id"]]


def main() -> None:
    order = big_order()
    policy = Policy()
    at = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    obs = [Observation(order_id=order.order_id, supplier_id=order.supplier.supplier_id,
                       inspectors=("a", "b"), line_id=str(1 + i % 200),
                       net_g=14000 + (i * 37) % 2500, at=at) for i in range(2000)]
    n = 0
    t = time.perf_counter()
    while time.perf_counter() - t < 2.0:
        for ob in obs:
            decide(order, ob, policy)
        n += len(obs)
    rate = n / (time.perf_counter() - t)
    outcomes = {decide(order, ob, policy).outcome for ob in obs}
    m = 0
    t = time.perf_counter()
    while time.perf_counter() - t < 1.0:
        for ob in obs[:200]:
            decide(replace(order), ob, policy)
        m += 200
    naive = m / (time.perf_counter() - t)
    print(f"decisions/s, 200-line order: {rate:8.0f}  (target >= 20000; outcomes seen {sorted(outcomes)})")
    print(f"peer: index rebuilt per decision: {naive:8.0f}/s  (ratio {rate / naive:.1f}x)")
    print(json.dumps({"decisions_per_s": round(rate), "decisions_per_s_index_rebuilt": round(naive),
                      "lines": 200}))


if __name__ == "__main__":
    main()
