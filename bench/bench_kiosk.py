"""Kiosk figures on the demo system: taps per item and seconds from placement to result.

The whole demo runs (simulated scale on a pty, synthetic camera, central, the
uplink); the kiosk page runs in headless Chromium at 1024×600 on a touch
screen. "Staff" tap as soon as the screen lets them; a tap is one ``tap`` on
the page (keypad keys included). Per item: how it is identified (a tile tap,
or the GS1 label under the camera: no tap), what else it needs (piece count,
temperature typed on the keypad or filled by the probe, the sensory checklist,
a document photo), then 确认验收. Seconds run from the load placed on the
scale (the simulator settles in 0.5 s) to the full-screen result shown.

Prints one row per item, the medians per kind, then one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.workflow.model import SetTemperature  # noqa: E402
from firmware_bridge.scenario import placement  # noqa: E402
from testbed.demo import DemoSystem  # noqa: E402
from testbed.demo_script import Driver  # noqa: E402
from tests.browser import page, sign_in  # noqa: E402

# kind, order suffix, line, grams, GS1 label under the camera, needs: pieces typed /
# temperature typed / probe temperature / sensory all-ok / document photo
ITEMS: list[tuple[str, str, str, int, str | None, dict[str, Any]]] = [
    ("bulk", "0016", "1", 20000, None, {}),
    ("bulk", "0016", "2", 15000, None, {}),
    ("bulk", "0016", "3", 20000, None, {}),
    ("bulk", "0016", "4", 7500, None, {}),
    ("bulk", "0016", "5", 10000, None, {}),
    ("counted", "0015", "2", 20000, "(01)06901234522228(10)F2411", {}),  # 面粉: count from weight
    ("counted", "0015", "5", 4000, "(01)06901234533330(10)S2411", {"pieces": "10"}),  # 食用盐
    ("counted", "0012", "4", 18000, None, {}),  # 鲜鸡蛋 by the box weight
    ("chilled", "0015", "3", 5000, None, {"temperature": "4"}),  # 老豆腐, typed
    ("chilled", "0013", "3", 9000, "(01)06920202888883(10)M2411",  # 纯牛奶, probe
     {"pieces": "6", "probe": "3.5"}),
    ("chilled", "0013", "1", 12000, None, {"probe": "2.5", "sensory": True,  # 猪前腿肉
                                           "document": "animal_quarantine"}),
]


class Taps:
    def __init__(self, p: Any) -> None:
        self.p, self.n = p, 0

    def __call__(self, selector: str) -> None:
        self.p.tap(selector)
        self.n += 1

    def keypad(self, text: str) -> None:
        self.p.wait_for_selector("#keypad:not([hidden])")
        for ch in text:
            self(f"#keypad [data-key='{ch}']")
        self("#keypad-ok")


def one_item(p: Any, world: Driver, system: DemoSystem, line: str, grams: int,
             label: str | None, needs: dict[str, Any]) -> tuple[int, float, str]:
    tap = Taps(p)
    if label:
        world.show([label])
        p.wait_for_selector("#screen-weigh:not([hidden]) #placement-line:not([data-gtin=''])")
    else:
        tap(f"#lines [data-line='{line}']")
        p.wait_for_selector("#screen-weigh:not([hidden])")
    start = time.monotonic()
    system.station.scale.simulator.play(placement(grams, oscillation_g=min(150, grams // 50 + 1),
                                                  settle_ms=500))
    if "probe" in needs:  # the probe's reading, as the thermometer consumer hands it in
        p.wait_for_selector("#weight:not(:has-text('—'))")
        system.station.handle(SetTemperature(Decimal(needs["probe"]), source="probe"))
        p.wait_for_selector("#temp-source:has-text('探针测得')")
    if "temperature" in needs:
        tap("#temperature")
        tap.keypad(needs["temperature"])
        p.wait_for_selector(f"#temperature:has-text('{needs['temperature']} ℃')")
    if "pieces" in needs:
        tap("#pieces")
        tap.keypad(needs["pieces"])
        p.wait_for_selector(f"#pieces:has-text('{needs['pieces']} ')")
    if needs.get("sensory"):
        tap("#sensory-all-ok")
        p.wait_for_selector("#sensory-items:not(:has(button.on.found)) button.on.ok")
    if "document" in needs:
        tap(f"#document-buttons button[data-kind='{needs['document']}']")
        p.wait_for_selector(f"#document-buttons button.done[data-kind='{needs['document']}']")
    p.wait_for_selector("#stable.ok")
    # the simulator swings around the load while settling: staff tap once it holds still
    world.wait(lambda s: bool(s["weight"]) and s["weight"]["stable"] and s["weight"]["net_g"] == grams,
               f"{grams} g stable")
    p.wait_for_selector("#confirm:not([disabled])")
    tap("#confirm")
    try:
        p.wait_for_selector("#decision:not([hidden])", timeout=15000)
    except Exception:
        p.screenshot(path="/tmp/bench-kiosk-failed.png")
        raise RuntimeError(f"no result for line {line}: {p.inner_text('#toast')}") from None
    seconds = time.monotonic() - start
    outcome = "accepted" if "accepted" in (p.get_attribute("#decision", "class") or "") else \
        "rejected: " + p.inner_text("#decision-reasons").replace("\n", "; ")
    world.clear()
    p.wait_for_selector("#decision", state="hidden")
    return tap.n, seconds, outcome


def run(state: Path) -> dict[str, Any]:
    system = DemoSystem(state, 0)
    system.start()
    rows: list[dict[str, Any]] = []
    try:
        world = Driver(system)
        world.wait(lambda s: len(s["orders"]) >= 5 and s["devices"]["scale"]["ok"],
                   "orders and scale", timeout=60)
        with page(1024, 600, touch=True) as p:
            p.goto(system.url + "/")
            sign_in(p, "zhang", "li")
            opened = None
            for kind, order, line, grams, label, needs in ITEMS:
                if order != opened:
                    if opened is not None:
                        close(p)
                    p.tap(f"#order-list button[data-order$='-{order}']")
                    p.wait_for_selector("#screen-lines:not([hidden])")
                    opened = order
                taps, seconds, outcome = one_item(p, world, system, line, grams, label, needs)
                row = {"kind": kind, "order": order, "line": line, "taps": taps,
                       "seconds": round(seconds, 2), "outcome": outcome,
                       "identified": "label" if label else "tile", **{k: True for k in needs}}
                rows.append(row)
                print(f"{kind:8} {order}/{line}  taps {taps}  {seconds:5.2f} s  {outcome}")
            close(p)
    finally:
        system.stop()
    return summarise(rows)


def close(p: Any) -> None:
    p.tap("#close-delivery")
    p.wait_for_selector("#screen-close:not([hidden])")
    p.tap("#close-confirm")
    p.wait_for_selector("#closed:not([hidden])")


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"items": rows}
    for kind in ("bulk", "counted", "chilled"):
        mine = [r for r in rows if r["kind"] == kind]
        out[kind] = {"taps_median": statistics.median(r["taps"] for r in mine),
                     "taps_min": min(r["taps"] for r in mine),
                     "taps_max": max(r["taps"] for r in mine),
                     "seconds_median": round(statistics.median(r["seconds"] for r in mine), 2)}
        print(f"{kind:8} taps median {out[kind]['taps_median']} "
              f"(min {out[kind]['taps_min']}, max {out[kind]['taps_max']}), "
              f"placement to result median {out[kind]['seconds_median']} s")
    out["seconds_median_all"] = round(statistics.median(r["seconds"] for r in rows), 2)
    out["all_accepted"] = all(r["outcome"] == "accepted" for r in rows)
    print(f"all items: placement to result median {out['seconds_median_all']} s; "
          f"all accepted: {out['all_accepted']}")
    return out


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-kiosk-") as tmp:
        out = run(Path(tmp) / "demo")
    print(json.dumps({"bench": "kiosk", **out}, ensure_ascii=False))
    return 0 if out["all_accepted"] else 1


if __name__ == "__main__":
    sys.exit(main())
