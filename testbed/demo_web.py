"""The demo's accounts on central's web app: one per role for the demo school.

Made through ``central.web.accounts`` — the code path of ``central-account add`` — with a random
password per demo run, printed at start-up. Not fixed demo passwords: central binds to 127.0.0.1,
but on a shared machine every local user can reach that, and ``var/demo`` (with its accounts)
outlives the run; a password printed only to the terminal that started the demo keeps the discipline
cases of the demo to whoever runs it. An account left from an earlier run gets the new password.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from testbed.demo_data import SCHOOL_ID

# (username, role, display name, what the role sees) — one account per role.
DEMO_ACCOUNTS = (
    ("demo-leader", "school_leader", "演示学校负责人",
     "its school's warnings and evidence (/web/warnings); upload explanations, stamp as the school"),
    ("demo-discipline", "discipline_committee", "演示学校纪检",
     "the same warnings; stamp as the discipline committee"),
    ("demo-bureau", "city_bureau", "演示市教育局",
     "every school's warnings, close or escalate them; the city overview (/web/overview)"),
    ("demo-tech", "technician", "演示技术运维",
     "no warnings; the fleet view (/web/fleet)"),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str
    sees: str


def make_accounts(dsn: str) -> list[DemoLogin]:
    """Create (or re-password) the demo's four accounts in central's store; their logins."""
    from central.store import Store
    from central.web import accounts

    store = Store(dsn)
    try:
        existing = {acc.username for acc, _ in accounts.accounts(store)}
        made = []
        for username, role, name, sees in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(12)  # 16 characters
            if username in existing:
                accounts.set_password(store, username, password)
                accounts.set_disabled(store, username, False)
            else:
                accounts.add_account(store, username, name, role,
                                     SCHOOL_ID if role in accounts.SCHOOL_ROLES else None, password)
            made.append(DemoLogin(username, role, password, sees))
        return made
    finally:
        store.close()


def banner(central_url: str, logins: list[DemoLogin]) -> str:
    """The start-up lines about central's web app: login URL, accounts, fleet and public pages."""
    lines = [f"central web app: {central_url}/web/login   (passwords are new each demo run)"]
    lines += [f"  {x.username:<16} {x.password}  {x.role}: {x.sees}" for x in logins]
    lines.append(f"fleet view (technician): {central_url}/web/fleet")
    lines.append(f"public school page at central: {central_url}/public/schools/{SCHOOL_ID}")
    return "\n".join(lines)


def check_login(central_url: str, logins: list[DemoLogin], role: str = "city_bureau") -> list[str]:
    """Log in as ``role`` the way the login form does and open its main page; problems found."""
    import requests

    x = next(x for x in logins if x.role == role)
    page = "/web/overview" if role == "city_bureau" else "/web/"
    with requests.Session() as http:
        form = http.get(f"{central_url}/web/login", timeout=15)
        token = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
        if form.status_code != 200 or token is None:
            return [f"central web app: login page answered {form.status_code} without its form"]
        r = http.post(f"{central_url}/web/login", timeout=15, allow_redirects=False,
                      data={"login_csrf": token.group(1), "username": x.username,
                            "password": x.password})
        if r.status_code != 303:
            return [f"central web app: login as {x.username} answered {r.status_code}"]
        got = http.get(central_url + page, timeout=15, allow_redirects=False)
    print(f"web: logged in to central as {x.username} ({role}); {page} answered {got.status_code}")
    return [] if got.status_code == 200 else [f"central web app: {page} answered {got.status_code}"]
