"""One way to make an HTTP session towards central: retries, bearer token, CA bundle.

Orders fetches and clip uploads share it, so the token file and the CA are read
the same way everywhere and the token never appears in a log line.
"""

from __future__ import annotations

from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def make_session(retries: int, token_file: Path | None = None,
                 ca_file: Path | None = None) -> requests.Session:
    s = requests.Session()
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
