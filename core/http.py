"""One way to make an HTTP session towards central: retries, bearer token, CA bundle.

Orders fetches and clip uploads share it, so the token file and the CA are read
the same way everywhere and the token never appears in a log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from requests.sessions import _Settings


class _Session(requests.Session):
    """A session whose own CA bundle wins over ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``.

    Plain ``requests`` lets those variables replace ``session.verify`` on every
    request, which would silently swap the configured CA of central for the
    system's bundle.
    """

    def merge_environment_settings(self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> _Settings:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str) and verify in (None, True):
            settings["verify"] = self.verify
        return settings


def make_session(retries: int, token_file: Path | None = None,
                 ca_file: Path | None = None) -> requests.Session:
    s = _Session()
    retry = Retry(total=retries, connect=retries, read=retries, status=retries,
                  backoff_factor=0.5, backoff_jitter=0.5,
                  status_forcelist=(429, 500, 502, 503, 504), allowed_methods=("GET", "HEAD"),
                  respect_retry_after_header=True, raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    if token_file is not None:
        s.headers["Authorization"] = "Bearer " + token_file.read_text().strip()
    if ca_file is not None:
        s.verify = str(ca_file)
    return s
