"""Central's web app: accounts (CLI), login, sessions, roles, CSRF, lockout; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from central.api import create_app
from central.store import Store
from central.web import accounts
from central.web.accounts import Session
from central.web.auth import posted_form, require_role
from central.web.forms import Form
from tests.cli_inproc import run_cli
from tests.sync_harness import central_http
from tests.web_helpers import PASSWORD, add_account, csrf_of, login


@pytest.fixture
def web(tmp_path: Path, dsn: str) -> Iterator[tuple[TestClient, Any]]:
    cfg, _ = central_http(tmp_path, dsn=dsn)
    app = create_app(cfg)
    probe = APIRouter()

    @probe.get("/web/probe/bureau")
    def bureau_only(session: Annotated[Session, Depends(require_role("city_bureau"))]) -> dict[str, Any]:
        return {"user": session.account.username}

    @probe.post("/web/probe/change")
    def change(session: Annotated[Session, Depends(require_role())],
               form: Annotated[Form, Depends(posted_form)]) -> dict[str, Any]:
        return {"user": session.account.username, "value": form.get("value")}

    app.include_router(probe)
    add_account(dsn, "leader1", "school_leader", "school-a")
    add_account(dsn, "bureau1", "city_bureau")
    with TestClient(app, base_url="http://testserver") as client:
        yield client, cfg


def test_login_session_and_roles(web: tuple[TestClient, Any]) -> None:
    client, _ = web
    assert client.get("/web/", follow_redirects=False).headers["location"] == "/web/login"
    assert client.get("/web/probe/bureau", follow_redirects=False).status_code == 303
    r = login(client, "leader1")
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/web" in cookie
    home = client.get("/web/")
    assert "leader1" in home.text and "本校预警" in home.text
    assert "default-src 'none'" in home.headers["content-security-policy"]
    assert client.get("/web/probe/bureau").status_code == 403  # a school leader is not the bureau
    client.cookies.clear()
    assert login(client, "bureau1").status_code == 303
    assert client.get("/web/probe/bureau").json() == {"user": "bureau1"}


def test_csrf_is_required_on_every_post(web: tuple[TestClient, Any]) -> None:
    client, _ = web
    login(client, "leader1")
    token = csrf_of(client.get("/web/").text)
    assert client.post("/web/probe/change", data={"value": "x"}).status_code == 403
    assert client.post("/web/probe/change", data={"value": "x", "csrf": token + "x"}).status_code == 403
    evil = client.post("/web/probe/change", data={"value": "x", "csrf": token},
                       headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    assert client.post("/web/probe/change", data={"value": "x", "csrf": token}).json()["value"] == "x"
    # The login form's own token must match its cookie too.
    client.cookies.clear()
    r = client.post("/web/login", data={"username": "leader1", "password": PASSWORD, "login_csrf": "forged"})
    assert r.status_code == 403
    # Logging out needs the token; afterwards the old session cookie opens nothing.
    login(client, "leader1")
    session_cookie = client.cookies.get("central_session")
    assert client.post("/web/logout", data={"csrf": ""}).status_code == 403
    assert client.post("/web/logout", data={"csrf": csrf_of(client.get("/web/").text)},
                       follow_redirects=False).status_code == 303
    client.cookies.set("central_session", session_cookie or "", path="/web")
    assert client.get("/web/probe/change", follow_redirects=False).status_code in (303, 405)
    assert client.get("/web/", follow_redirects=False).headers["location"] == "/web/login"


def test_lockout_after_failures_even_with_the_right_password(web: tuple[TestClient, Any]) -> None:
    client, cfg = web
    for _ in range(cfg.web.max_failures):
        assert login(client, "leader1", "wrong password!").status_code == 401
    r = login(client, "leader1")
    assert r.status_code == 429 and "锁定" in r.text
    assert login(client, "bureau1").status_code == 303  # other names are not locked
    # Unknown names are counted the same way, so a lockout tells nothing about which names exist.
    for _ in range(cfg.web.max_failures):
        assert login(client, "nobody-here", "wrong password!").status_code == 401
    assert login(client, "nobody-here", "wrong password!").status_code == 429


def test_expired_and_disabled_sessions_open_nothing(web: tuple[TestClient, Any]) -> None:
    from datetime import UTC, datetime, timedelta
    _, cfg = web
    store = Store(cfg.store.dsn)
    try:
        got = accounts.login(store, "leader1", PASSWORD, ttl_min=5, max_failures=5, lockout_min=1)
        assert got is not None
        token = got[0]
        assert accounts.session(store, token) is not None
        assert accounts.session(store, token, datetime.now(UTC) + timedelta(minutes=6)) is None
        accounts.set_disabled(store, "leader1", True)
        assert accounts.session(store, token) is None
        assert accounts.login(store, "leader1", PASSWORD, ttl_min=5, max_failures=5, lockout_min=1) is None
        row = store.rows("SELECT password_hash FROM web_accounts WHERE username='bureau1'")[0][0]
        assert str(row).startswith("$scrypt$ln=14,") and PASSWORD not in str(row)
        assert store.rows("SELECT count(*) FROM web_sessions WHERE session_hash=?", (token,))[0][0] == 0
    finally:
        store.close()


def test_account_cli(tmp_path: Path) -> None:
    cfg_path = tmp_path / "central.toml"
    cfg_path.write_text(f'[store]\ndsn = "sqlite:///{tmp_path}/c.db"\n')
    base = ("central-account", "add", "--config", str(cfg_path))
    ok = run_cli(*base, "--username", "wang.li", "--role", "discipline_committee", "--school", "school-a",
                 "--name", "王丽", "--password-stdin", input=PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    assert run_cli(*base, "--username", "wang.li", "--role", "city_bureau", "--password-stdin",
                   input=PASSWORD + "\n").returncode == 2  # exists
    bad = [("--role", "mayor"), ("--role", "school_leader"),
           ("--role", "city_bureau", "--school", "school-a")]
    for extra in bad:
        r = run_cli(*base, "--username", "x-user", *extra, "--password-stdin", input=PASSWORD + "\n")
        assert r.returncode == 2, extra
    short = run_cli(*base, "--username", "y-user", "--role", "technician", "--password-stdin",
                    input="short\n")
    assert short.returncode == 2 and "10 to 256" in short.stderr
    listed = run_cli("central-account", "list", "--config", str(cfg_path))
    assert listed.stdout.splitlines() == ["wang.li  discipline_committee  school-a  王丽"]
    off = run_cli("central-account", "disable", "--config", str(cfg_path), "--username", "wang.li")
    assert off.returncode == 0
    assert "(disabled)" in run_cli("central-account", "list", "--config", str(cfg_path)).stdout


def test_one_address_is_throttled_across_names(tmp_path: Path) -> None:
    from central.limits import ClientLimits
    cfg, _ = central_http(tmp_path)
    cfg = cfg.model_copy(update={"web": cfg.web.model_copy(update={"logins_per_min": 3})})
    add_account(cfg.store.dsn, "leader1", "school_leader", "school-a")
    with TestClient(create_app(cfg)) as client:
        for name in ("a-name", "b-name", "c-name"):
            assert login(client, name, "wrong password!").status_code == 401
        r = login(client, "leader1")  # a fourth name, the right password: this address waits
        assert r.status_code == 429 and "频繁" in r.text
    t = ClientLimits(3 / 60, 3)  # what logins_per_min = 3 makes
    assert [t.allow("10.0.0.1", 0.0) for _ in range(4)] == [True, True, True, False]
    assert t.allow("10.0.0.2", 0.0)
    assert not t.allow("10.0.0.1", 19.9)
    assert t.allow("10.0.0.1", 20.0) and not t.allow("10.0.0.1", 20.0)  # one more every 20 s
