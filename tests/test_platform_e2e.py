"""End to end: a station's signed records cross the uplink, TLS and the ACL to central's ingest; the
indicators find them; the warning goes out over the same TLS broker (central's role may write the
school's topic) and to a webhook that verifies the HMAC. A broker whose access data lacks the
warnings grant refuses the publish, and central records that target as undelivered."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.config import load_config
from app.sync_cli import build_uplink
from central.config import CentralConfig, load_central_config
from central.platform import engine, service
from central.store import Store
from central.worker import Worker
from contract.broker_acl import warnings_topic
from testbed.pki import make_pki
from tests.sync_harness import Broker, InThread, central_config, central_holds, make_station, station_config
from tests.waiting import wait_until

SECRET = b"e2e-secret"


class Hook(BaseHTTPRequestHandler):
    got: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        sig = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(sig, self.headers.get("X-Acceptance-Signature", ""))
        if ok:
            self.got.append(json.loads(body))
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *a: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[ThreadingHTTPServer, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (Hook,), {"got": got}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, got
    server.shutdown()


def _with_warnings(cfg: CentralConfig, tmp: Path, port: int) -> CentralConfig:
    (tmp / "hook.key").write_bytes(SECRET)
    raw = cfg.model_dump(mode="json")
    hooks = [{"url": f"http://127.0.0.1:{port}/", "secret_file": str(tmp / "hook.key")}]
    raw["warnings"] = {"enabled": True, "retries": 1, "backoff_min_s": 0.05, "timeout_s": 5.0,
                       "schools": {"*": {"mqtt": True, "webhooks": hooks}}}
    return CentralConfig.model_validate(raw)


@pytest.mark.parametrize("acl_has_warnings", [True, False])
def test_station_record_to_warning_over_tls(tmp_path: Path, hook: Any, acl_has_warnings: bool) -> None:
    pki = tmp_path / "pki"
    make_pki(pki, ["central-ingest", "st-aaa"])
    broker = Broker(tmp_path, tls_dir=pki)
    assert broker.dynsec_file is not None
    data = json.loads(broker.dynsec_file.read_text())
    central = next(r for r in data["roles"] if r["rolename"] == "central")
    grant = {"acltype": "publishClientSend", "topic": warnings_topic("+"), "priority": 0, "allow": True}
    assert grant in central["acls"]
    if not acl_has_warnings:
        central["acls"].remove(grant)
        broker.dynsec_file.write_text(json.dumps(data))
    broker.start()
    keys = tmp_path / "keys"
    j = make_station(tmp_path, "st-aaa", keys)
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    cfg = load_central_config(central_config(tmp_path, broker, dsn, keys))
    worker = InThread(Worker(cfg, 0))
    up = InThread(build_uplink(load_config(station_config(tmp_path, "st-aaa", broker))))
    try:
        j.append("line.rejected", {"delivery_id": "d-1", "order_id": "PO-1", "line_id": "1",
                                   "price": {"ordered_unit_price_fen": 350, "delivered_unit_price_fen": 420,
                                             "price_per": "jin", "amount_fen": None},
                                   "delivered_by": "sup-1", "inspectors": ["i-1", "i-2"]})
        j.append("alert.raised", {"code": "RETEST_AFTER_REJECT", "severity": "warning",
                                  "message": "拒收后复检", "refs": [1]})
        wait_until(lambda: central_holds(dsn, "st-aaa") == [1, 2], 60, "central to hold both events")
    finally:
        up.close()
        worker.close()
    store = Store(dsn)
    try:
        full = _with_warnings(cfg, tmp_path, hook[0].server_port)
        out = service.cycle(store, full, engine.local_today(full.indicators))
        got = {g["indicator"]: g for g in hook[1]}
        n = len(out["new_warnings"])
        # this machine's clock may be unsynchronised: then clock_unsynced warns as well, rightly
        assert set(got) - {"clock_unsynced"} == {"price_above_order", "retest_after_reject"} and n == len(got)
        assert got["price_above_order"]["evidence"]["events"][0]["seq"] == 1
        assert got["retest_after_reject"]["evidence"]["events"][0]["seq"] == 2
        mqtt = store.rows("SELECT delivered_at IS NOT NULL, last_error FROM platform_deliveries "
                          "WHERE channel='mqtt'")
        if acl_has_warnings:
            assert out["delivery"] == {"sent": 2 * n, "failed": 0} and all(ok for ok, _ in mqtt)
        else:
            assert out["delivery"] == {"sent": n, "failed": n}
            assert all(not ok and "refused" in err for ok, err in mqtt), mqtt
    finally:
        store.close()
        broker.kill()
