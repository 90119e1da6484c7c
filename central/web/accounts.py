"""Accounts, login sessions and login failures: the ``web_accounts``, ``web_sessions`` and
``web_login_failures`` tables (owned here), on SQLite and PostgreSQL through ``central.store.Store``.

Passwords are scrypt PHC strings (``core.kdf``). A session token is shown to the browser once (its
cookie); the table holds only its sha256, so a copy of the database opens no session. Each session
has its own CSRF token. Failed logins are counted per account name (known or not, so a lockout does
not tell which names exist); ``max_failures`` in a row lock the name for ``lockout_min``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from central.platform import warnings as warning_table
from central.store import Store
from core import kdf
from core.clock import now_rfc3339

ROLES = {
    "school_leader": "学校负责人",
    "discipline_committee": "学校纪检",
    "city_bureau": "市教育局",
    "technician": "技术运维",
}
SCHOOL_ROLES = ("school_leader", "discipline_committee")  # scoped to one school
CITY_ROLES = ("city_bureau", "technician")  # city-wide
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
SCHOOL = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
_DUMMY = kdf.hash_secret("not a password of anyone")  # equal work for unknown names

DDL = (
    """CREATE TABLE IF NOT EXISTS web_accounts (
        username TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL,
        school_id TEXT,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS web_sessions (
        session_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS web_login_failures (
        username TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        locked_until TEXT,
        updated_at TEXT NOT NULL
    )""",
)


class AccountError(ValueError):
    """A bad account request (the message says what, in English, for the CLI)."""


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str
    school_id: str | None  # None for city-wide roles

    @property
    def role_name(self) -> str:
        return ROLES[self.role]

    def sees_school(self, school_id: str) -> bool:
        """City-wide roles see every school; a school's accounts only their own."""
        return self.role in CITY_ROLES or self.school_id == school_id


@dataclass(frozen=True)
class Session:
    account: Account
    csrf_token: str
    session_hash: str


def ensure_tables(store: Store) -> None:
    warning_table.ensure_tables(store, DDL, lock=727031)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def add_account(store: Store, username: str, display_name: str, role: str, school_id: str | None,
                password: str) -> Account:
    """Create an account; refuses a bad name, role, scope or password, or a name in use."""
    if not USERNAME.match(username):
        raise AccountError("a username is 3-64 of a-z 0-9 . _ - (starting with a letter or digit)")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role in SCHOOL_ROLES and (school_id is None or not SCHOOL.match(school_id)):
        raise AccountError(f"a {role} account needs --school (a school id)")
    if role in CITY_ROLES and school_id is not None:
        raise AccountError(f"a {role} account is city-wide: no --school")
    if not 1 <= len(display_name.strip()) <= 64:
        raise AccountError("a display name is 1 to 64 characters")
    check_password(password)
    ensure_tables(store)
    with store.transaction():
        rows = store.rows("INSERT INTO web_accounts(username, display_name, role, school_id, password_hash, "
                          "disabled, created_at) VALUES (?,?,?,?,?,0,?) ON CONFLICT (username) DO NOTHING "
                          "RETURNING username", (username, display_name.strip(), role, school_id,
                                                  kdf.hash_secret(password), now_rfc3339()))
    if not rows:
        raise AccountError(f"account {username} exists")
    return Account(username, display_name.strip(), role, school_id)


def set_password(store: Store, username: str, password: str) -> None:
    check_password(password)
    ensure_tables(store)
    with store.transaction():
        if not store.rows("UPDATE web_accounts SET password_hash=? WHERE username=? RETURNING username",
                          (kdf.hash_secret(password), username)):
            raise AccountError(f"no account {username}")
        store._exec("DELETE FROM web_sessions WHERE username=?", (username,))


def set_disabled(store: Store, username: str, disabled: bool) -> None:
    """Disable (ending its sessions) or enable an account."""
    ensure_tables(store)
    with store.transaction():
        if not store.rows("UPDATE web_accounts SET disabled=? WHERE username=? RETURNING username",
                          (int(disabled), username)):
            raise AccountError(f"no account {username}")
        if disabled:
            store._exec("DELETE FROM web_sessions WHERE username=?", (username,))


def accounts(store: Store) -> list[tuple[Account, bool]]:
    """Every account and whether it is disabled, by name."""
    ensure_tables(store)
    return [(Account(str(u), str(n), str(r), None if s is None else str(s)), bool(d)) for u, n, r, s, d in
            store.rows("SELECT username, display_name, role, school_id, disabled FROM web_accounts "
                       "ORDER BY username")]


def _account(store: Store, username: str) -> tuple[Account, str, bool] | None:
    rows = store.rows("SELECT username, display_name, role, school_id, password_hash, disabled "
                      "FROM web_accounts WHERE username=?", (username,))
    if not rows:
        return None
    u, n, r, s, h, d = rows[0]
    return Account(str(u), str(n), str(r), None if s is None else str(s)), str(h), bool(d)


class LockedOut(Exception):
    """Too many failed logins of this name; ``until`` says when it may try again."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


def login(store: Store, username: str, password: str, *, ttl_min: int, max_failures: int,
          lockout_min: int, now: datetime | None = None) -> tuple[str, Session] | None:
    """A new session (its token, once) for a right name and password, None for a wrong one.

    Raises ``LockedOut`` while the name is locked, right password or not.
    """
    now = now or datetime.now(UTC)
    name = username.strip().lower()[:64]
    rows = store.rows("SELECT failures, locked_until FROM web_login_failures WHERE username=?", (name,))
    if rows and rows[0][1] and datetime.fromisoformat(str(rows[0][1]).replace("Z", "+00:00")) > now:
        raise LockedOut(datetime.fromisoformat(str(rows[0][1]).replace("Z", "+00:00")))
    found = _account(store, name) if USERNAME.match(name) else None
    ok = kdf.verify_secret(password[:MAX_PASSWORD], found[1] if found else _DUMMY)
    if found is None or not ok or found[2]:
        failures = (int(rows[0][0]) if rows else 0) + 1
        locked = now_rfc3339(now + timedelta(minutes=lockout_min)) if failures >= max_failures else None
        with store.transaction():
            store._exec("INSERT INTO web_login_failures(username, failures, locked_until, updated_at) "
                        "VALUES (?,?,?,?) ON CONFLICT (username) DO UPDATE SET failures=excluded.failures, "
                        "locked_until=excluded.locked_until, updated_at=excluded.updated_at",
                        (name, 0 if locked else failures, locked, now_rfc3339(now)))
            # Names tried once and forgotten a day later, so random names cannot grow the table.
            store._exec("DELETE FROM web_login_failures WHERE updated_at < ? AND (locked_until IS NULL "
                        "OR locked_until < ?)", (now_rfc3339(now - timedelta(days=1)), now_rfc3339(now)))
        return None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.transaction():
        store._exec("DELETE FROM web_login_failures WHERE username=?", (name,))
        store._exec("DELETE FROM web_sessions WHERE expires_at < ?", (now_rfc3339(now),))
        store._exec("INSERT INTO web_sessions(session_hash, username, csrf_token, created_at, expires_at) "
                    "VALUES (?,?,?,?,?)", (_hash_token(token), name, csrf, now_rfc3339(now),
                                           now_rfc3339(now + timedelta(minutes=ttl_min))))
    return token, Session(found[0], csrf, _hash_token(token))


def session(store: Store, token: str, now: datetime | None = None) -> Session | None:
    """The live session of a cookie's token (None when unknown, expired or its account disabled)."""
    if not 20 <= len(token) <= 100:
        return None
    h = _hash_token(token)
    rows = store.rows("SELECT username, csrf_token, expires_at FROM web_sessions WHERE session_hash=?", (h,))
    if not rows or str(rows[0][2]) <= now_rfc3339(now):
        return None
    found = _account(store, str(rows[0][0]))
    if found is None or found[2]:
        return None
    return Session(found[0], str(rows[0][1]), h)


def logout(store: Store, session_hash: str) -> None:
    with store.transaction():
        store._exec("DELETE FROM web_sessions WHERE session_hash=?", (session_hash,))
