"""Central's web app on SQLite: login (scrypt), a school's warning list, a warning's page (with
the chain verified), the bureau's overview, and the discipline step over many open cases.

Prints the figures and ends with one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from central.api import create_app
from central.platform import discipline
from central.platform import warnings as warning_table
from central.platform.model import Finding
from central.platform.service import discipline_step
from central.store import Store
from tests.sync_harness import central_http
from tests.web_helpers import add_account, login

SCHOOLS, PER_SCHOOL = 50, 40


def p50_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg, _ = central_http(Path(tmp))
        store = Store(cfg.store.dsn)
        warning_table.ensure_tables(store)
        findings = [Finding("late_arrival", f"st-{s:04d}", f"school-{s:04d}", f"2026-11-{1 + n % 28:02d}",
                            f"{s}|{n}", "crafted", {"events": []})
                    for s in range(SCHOOLS) for n in range(PER_SCHOOL)]
        warning_table.record(store, findings)
        discipline.ensure_tables(store)
        t = time.perf_counter()
        opened = discipline_step(store, cfg)["opened"]
        step_first_ms = (time.perf_counter() - t) * 1000
        step_again_ms = p50_ms(lambda: discipline_step(store, cfg), 5)
        add_account(cfg.store.dsn, "lead", "school_leader", "school-0007")
        add_account(cfg.store.dsn, "bureau", "city_bureau")
        with TestClient(create_app(cfg)) as client:
            login_ms = p50_ms(lambda: (client.cookies.clear(), login(client, "lead")), 5)
            list_ms = p50_ms(lambda: client.get("/web/warnings"), 20)
            wid = next(f.warning_id for f in findings if f.school_id == "school-0007")
            page_ms = p50_ms(lambda: client.get(f"/web/warnings/{wid}"), 20)
            client.cookies.clear()
            login(client, "bureau")
            overview_ms = p50_ms(lambda: client.get("/web/overview"), 10)
        store.close()
    n = SCHOOLS * PER_SCHOOL
    print(f"discipline step, {opened} new cases: {step_first_ms:7.1f} ms; again (nothing to do): "
          f"{step_again_ms:6.1f} ms")
    print(f"login (scrypt ln=14, r=8): p50 {login_ms:6.1f} ms")
    print(f"a school's list ({PER_SCHOOL} warnings): p50 {list_ms:6.1f} ms; a warning's page: "
          f"p50 {page_ms:6.1f} ms")
    print(f"bureau overview ({n} warnings, {SCHOOLS} schools): p50 {overview_ms:6.1f} ms")
    print(json.dumps({"warnings": n, "step_first_ms": round(step_first_ms, 1),
                      "step_again_ms": round(step_again_ms, 1), "login_ms": round(login_ms, 1),
                      "list_ms": round(list_ms, 1), "warning_page_ms": round(page_ms, 1),
                      "overview_ms": round(overview_ms, 1)}))


if __name__ == "__main__":
    main()
