"""Central's web app in tests: accounts, logging in with a TestClient or in Chromium, CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from central.store import Store
from central.web import accounts

PASSWORD = "correct horse battery"


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
