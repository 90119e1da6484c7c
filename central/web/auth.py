"""Who is asking: the session cookie, roles, CSRF, and the store the web routes use.

Use from any router::

    from central.web.auth import WebStore, require_role, posted_form
    @router.get("/web/fleet")
    def fleet(session: Annotated[Session, Depends(require_role("technician"))], store: WebStore): ...
    @router.post("/web/thing")
    async def change(session: Annotated[Session, Depends(require_role("city_bureau"))],
                     form: Annotated[Form, Depends(posted_form)]): ...

``require_role()`` with no roles admits any logged-in account. Without a session a GET is
redirected to the login page (303) and anything else is 401; a role not listed is 403.
``posted_form`` reads the body (size-limited) and refuses (403) a form whose ``csrf`` field is
not the session's token, or a request whose ``Origin`` is another site's.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from central.store import Store
from central.web import accounts
from central.web.accounts import Session
from central.web.forms import Form, read_form

COOKIE = "central_session"


class StorePool:
    """Store connections for the web routes: one per request at a time, reused, a broken one dropped."""

    def __init__(self, dsn: str, setup: Callable[[Store], None]) -> None:
        self.dsn = dsn
        self.setup = setup
        self.free: list[Store] = []
        self.lock = threading.Lock()

    def acquire(self) -> Store:
        with self.lock:
            if self.free:
                return self.free.pop()
        store = Store(self.dsn)
        self.setup(store)
        return store

    def release(self, store: Store, broken: bool) -> None:
        if broken:
            store.close()
            return
        with self.lock:
            self.free.append(store)

    @contextmanager
    def borrow(self) -> Iterator[Store]:
        """A connection for one piece of work; one that raised is closed, not reused."""
        store = self.acquire()
        broken = True
        try:
            yield store
            broken = False
        finally:
            self.release(store, broken)

    def use(self, fn: Callable[[Store], Any]) -> Any:
        with self.borrow() as store:
            return fn(store)


SETUP: list[Callable[[Store], None]] = [accounts.ensure_tables]  # tables a web route may read


def _setup(store: Store) -> None:
    for step in SETUP:
        step(store)


def pool(request: Request) -> StorePool:
    state = request.app.state
    with _pool_lock:
        if getattr(state, "web_pool", None) is None:
            state.web_pool = StorePool(state.cfg.store.dsn, _setup)
    return state.web_pool  # type: ignore[no-any-return]


_pool_lock = threading.Lock()


def web_store(request: Request) -> Iterator[Store]:
    """A store connection for this request (a FastAPI dependency)."""
    with pool(request).borrow() as store:
        yield store


WebStore = Annotated[Store, Depends(web_store)]


def optional_session(request: Request, store: WebStore) -> Session | None:
    token = request.cookies.get(COOKIE)
    return accounts.session(store, token) if token else None


def current_session(request: Request,
                    session: Annotated[Session | None, Depends(optional_session)]) -> Session:
    if session is None:
        if request.method == "GET":
            raise HTTPException(303, "login required", headers={"Location": "/web/login"})
        raise HTTPException(401, "login required")
    return session


def require_role(*roles: str) -> Callable[..., Session]:
    """A dependency admitting a logged-in account of one of ``roles`` (any role when none given)."""
    unknown = set(roles) - set(accounts.ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def dependency(session: Annotated[Session, Depends(current_session)]) -> Session:
        if roles and session.account.role not in roles:
            raise HTTPException(403, "this account's role may not do this")
        return session

    return dependency


def same_origin(request: Request) -> None:
    """403 for a browser's cross-site request (its Origin names another host)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = origin.split("://", 1)[-1]
        if host != request.headers.get("host"):
            raise HTTPException(403, "cross-site request refused")
    elif origin == "null":
        raise HTTPException(403, "cross-site request refused")


async def posted_form(request: Request, session: Annotated[Session, Depends(current_session)]) -> Form:
    """The POSTed form of a logged-in session, after the CSRF checks (a FastAPI dependency)."""
    same_origin(request)
    cfg: Any = request.app.state.cfg
    form = await read_form(request, cfg.web.document_max_bytes)
    if not hmac.compare_digest(form.get("csrf").encode(), session.csrf_token.encode()):
        raise HTTPException(403, "CSRF token missing or wrong")
    return form
