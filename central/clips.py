"""Central's clip receiver (docs/contract.md §5): content-addressed, hash-checked.

``PUT /v1/stations/{s}/clips/{clip_id}`` with ``X-Content-SHA256``: the body is
streamed to a temporary file while hashed; a hash that differs from the header
is ``400`` and nothing is kept. Objects live once under ``objects/<sha256>``;
``index/<station>/<clip_id>`` names the object of a clip, so a second upload of
the same file is ``200`` and another file under that id is ``409``. ``HEAD``
answers ``200`` (with the stored hash) or ``404``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path

from central.http import ID, ApiHandler, add_route

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SHA = re.compile(r"^[0-9a-f]{64}$")
_lock = threading.Lock()


def _index(root: Path, station: str, clip_id: str) -> Path:
    return root / "index" / station / clip_id


def _durable_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _head(h: ApiHandler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    idx = _index(h.http.clips_dir, m.group(1), m.group(2))
    if not idx.exists():
        h.send_response(404)
        h.send_header("Content-Length", "0")
        h.end_headers()
        return
    sha = idx.read_text().strip()
    h.send_response(200)
    h.send_header("X-Content-SHA256", sha)
    h.send_header("Content-Length", str((h.http.clips_dir / "objects" / sha).stat().st_size))
    h.end_headers()


def _put(h: ApiHandler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    root = h.http.clips_dir
    claimed = (h.headers.get("X-Content-SHA256") or "").strip().lower()
    try:
        length = int(h.headers.get("Content-Length") or "")
    except ValueError:
        h.send_json(411, {"error": "Content-Length required"})
        return
    if not SHA.match(claimed):
        h.send_json(400, {"error": "X-Content-SHA256 must be 64 hex digits"})
        return
    if length > h.http.clip_max_bytes:
        h.send_json(413, {"error": "clip too large"})
        return
    (root / "objects").mkdir(parents=True, exist_ok=True)
    code, doc = _receive(h, root, m.group(1), m.group(2), length, claimed)
    h.send_json(code, doc)  # after the temporary file is gone: a client never sees it


def _receive(h: ApiHandler, root: Path, station: str, clip_id: str, length: int,
             claimed: str) -> tuple[int, dict[str, str]]:
    """Read the body into a temporary file, check it, store it; (status, answer)."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=root / "objects", prefix=".in-")
    try:
        with os.fdopen(fd, "wb") as f:
            left = length
            while left > 0:
                chunk = h.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk)
                f.write(chunk)
                left -= len(chunk)
            f.flush()
            os.fsync(f.fileno())
        if left > 0:
            return 400, {"error": "body shorter than Content-Length"}
        got = digest.hexdigest()
        if got != claimed:
            return 400, {"error": "hash mismatch", "sha256": got}
        with _lock:
            idx = _index(root, station, clip_id)
            if idx.exists():
                stored = idx.read_text().strip()
                return (200 if stored == got else 409), {"sha256": stored}
            obj = root / "objects" / got
            if not obj.exists():
                os.replace(tmp, obj)
            _durable_write(idx, got.encode())
        return 201, {"sha256": got}
    finally:
        Path(tmp).unlink(missing_ok=True)


add_route("HEAD", rf"/v1/stations/({ID})/clips/({UUID})", _head)
add_route("PUT", rf"/v1/stations/({ID})/clips/({UUID})", _put)
