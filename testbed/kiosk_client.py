"""A client of the kiosk API that behaves like the kiosk page: it loads the page first.

The station puts a per-boot token into the kiosk page (``<meta name="kiosk-token">``)
and refuses every state-changing request without it in ``X-Kiosk-Token``. The
demo script and the tests get the token the way the page does, by reading the
page the station serves, and send it on every request.
"""

from __future__ import annotations

import re

import requests

TOKEN_HEADER = "X-Kiosk-Token"
_META = re.compile(r'<meta name="kiosk-token" content="([A-Za-z0-9_-]+)">')


def token_from_page(html: str) -> str:
    m = _META.search(html)
    if m is None:
        raise RuntimeError("the kiosk page carries no token")
    return m.group(1)


def kiosk_session(url: str, timeout: float = 10.0) -> requests.Session:
    """A session with the token of the page at ``url`` (the kiosk's base URL)."""
    s = requests.Session()
    r = s.get(url.rstrip("/") + "/", timeout=timeout)
    r.raise_for_status()
    s.headers[TOKEN_HEADER] = token_from_page(r.text)
    return s
