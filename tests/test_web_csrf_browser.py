"""CSRF in headless Chromium: a page of another origin, opened in the kiosk's browser,
tries to close the open delivery and tare the scale. The kiosk API refuses it all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from playwright.sync_api import Page

from edge.journal import Journal
from edge.workflow.driver import Workflow
from edge.workflow.model import Effect
from testbed.broker import free_port
from testbed.demo_data import PINS
from testbed.kiosk_client import kiosk_session
from tests.browser import page
from tests.test_web_api import VEG, server  # noqa: F401  (fixtures shared)
from tests.test_web_guard import effects, wf  # noqa: F401

ATTACK = """<!doctype html><html><body>
<iframe name="a" id="fa"></iframe><iframe name="b" id="fb"></iframe>
<form id="close" method="POST" action="{kiosk}/api/deliveries/current/close" target="a"
      enctype="text/plain"><input type="hidden" name='{{"x":"' value='"}}'></form>
<form id="tare" method="POST" action="{kiosk}/api/scale/tare" target="b"></form>
<script>
let loaded = 0;
for (const f of ["fa", "fb"]) document.getElementById(f).onload = () => {{ loaded += 1; }};
document.getElementById("close").submit();
document.getElementById("tare").submit();
const quiet = {{method: "POST", mode: "no-cors", body: '{{"inspector_id": "evil"}}',
               headers: {{"Content-Type": "text/plain"}}}};
const tries = [
  fetch("{kiosk}/api/inspectors", quiet).catch(() => null),
  fetch("{kiosk}/api/scale/tare", {{method: "POST", mode: "no-cors"}}).catch(() => null),
  fetch("{kiosk}/api/scale/tare", {{method: "POST", headers: {{"X-Kiosk-Token": "guess"}}}})
    .catch(() => null),
];
Promise.all(tries).then(() => {{ window.fetchesDone = true; }});
</script></body></html>"""


@pytest.fixture
def attacker(server: str) -> Iterator[str]:  # noqa: F811
    html = ATTACK.format(kiosk=server).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://localhost:{port}/"  # another origin than the kiosk's 127.0.0.1:<port>
    srv.shutdown()


def test_a_page_of_another_origin_cannot_change_the_kiosk(
        server: str, attacker: str, wf: Workflow, journal: Journal,  # noqa: F811
        effects: list[Effect]) -> None:  # noqa: F811
    s = kiosk_session(server)
    for who in ("zhang", "li"):
        s.post(server + "/api/inspectors",
               json={"inspector_id": who, "pin": PINS[who]}).raise_for_status()
    s.post(server + "/api/deliveries", json={"order_id": VEG}).raise_for_status()
    before = requests.get(server + "/api/state", timeout=5).json()
    seq = journal.last_seq()
    with page() as p:
        _visit(p, attacker)
    after = requests.get(server + "/api/state", timeout=5).json()
    assert after["delivery"] is not None and after["delivery"]["order_id"] == VEG
    assert after["inspectors"] == before["inspectors"] == ["zhang", "li"]
    assert journal.last_seq() == seq
    assert effects == [], "the scale was tared by another page"


def _visit(p: Page, url: str) -> None:
    p.goto(url)
    p.wait_for_function("window.fetchesDone === true", timeout=10000)
    p.wait_for_function("loaded >= 2", timeout=10000)
