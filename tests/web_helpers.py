"""Web apps in tests: serving one under uvicorn; central's accounts, logging in with a TestClient
or in Chromium, CSRF tokens."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from central.store import Store
from central.web import accounts

PASSWORD = "correct horse battery"


@contextmanager
def serving(make_app: Callable[[int], Any], port: int | None = None) -> Iterator[str]:
    """The app ``make_app(port)`` under uvicorn on ``port`` (default a free loopback port), in a
    thread, until the block ends; yields its base URL. An open stream or keep-alive connection
    holds the stop for at most a second."""
    from testbed.broker import free_port
    from tests.waiting import wait_until

    port = free_port() if port is None else port
    srv = uvicorn.Server(uvicorn.Config(make_app(port), host="127.0.0.1", port=port, log_level="warning",
                                        timeout_graceful_shutdown=1))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    wait_until(lambda: srv.started or not t.is_alive(), 10, "the server to start")
    assert srv.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        t.join(5)


def add_account(dsn: str, username: str, role: str, school: str | None = None,
                password: str = PASSWORD, name: str | None = None) -> None:
    store = Store(dsn)
    try:
        accounts.add_account(store, username, name or username, role, school, password)
    finally:
        store.close()


def csrf_of(html: str, name: str = "csrf") -> str:
    m = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert m, f"no {name} field on the page"
    return m.group(1)


def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    """Log a TestClient in (it keeps the cookie); the response to the login POST."""
    form = client.get("/web/login")
    return client.post("/web/login", data={"username": username, "password": password,
                                           "login_csrf": csrf_of(form.text, "login_csrf")},
                       follow_redirects=False)


def browser_login(p: Any, base: str, username: str, password: str = PASSWORD) -> None:
    """Log a Chromium page in through the login form; waits for the account's name in the header."""
    p.goto(f"{base}/web/login")
    p.fill("#username", username)
    p.fill("#password", password)
    p.click("#login-form button")
    p.wait_for_selector("#who")
