"""Stations' bearer tokens for central's HTTP API: issued by central, stored only as hashes.

The tokens file (``[http] tokens_file``) has one line per token,
``<sha256 of the token> <station_id> <issued_at>``; the token itself is printed
once by ``acceptance-station central-token issue`` and never stored here. A
token's id is the first 12 hex digits of its hash (``list``, ``revoke``). The
server re-reads the file when it changes, so issuing and revoking need no
restart. Every write replaces the file whole (mode 0600), so a reader sees the
old or the new version, never half of one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from contract.ids import is_valid_id
from core import log
from core.clock import now_rfc3339

logger = logging.getLogger("central.tokens")


class TokenError(ValueError):
    """A bad station id, token id or tokens file."""


@dataclass(frozen=True)
class Entry:
    digest: str
    station: str
    issued_at: str

    @property
    def token_id(self) -> str:
        return self.digest[:12]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse(text: str) -> list[Entry]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 3 or len(parts[0]) != 64 or not is_valid_id(parts[1]):
            raise TokenError(f"tokens file line {n}: expected '<sha256> <station_id> <issued_at>'")
        out.append(Entry(parts[0], parts[1], parts[2]))
    return out


def read(path: Path) -> list[Entry]:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []


def _write(path: Path, entries: list[Entry]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    text = "# sha256(token) station_id issued_at  (acceptance-station central-token)\n" + "".join(
        f"{e.digest} {e.station} {e.issued_at}\n" for e in entries)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def issue(path: Path, station: str) -> tuple[str, Entry]:
    """A new token for ``station`` (its older ones stay valid until revoked)."""
    if not is_valid_id(station):
        raise TokenError(f"not a station id: {station!r}")
    token = secrets.token_urlsafe(32)
    entry = Entry(digest(token), station, now_rfc3339())
    _write(path, [*read(path), entry])
    return token, entry


def revoke(path: Path, station: str, token_id: str | None = None) -> list[Entry]:
    """Remove the station's token ``token_id``, or all of its tokens; returns what was removed."""
    entries = read(path)
    gone = [e for e in entries if e.station == station and (token_id is None or e.token_id == token_id)]
    if not gone:
        raise TokenError(f"station {station} has no token" + ("" if token_id is None else f" {token_id}"))
    _write(path, [e for e in entries if e not in gone])
    return gone


class TokenRegistry:
    """token → station for the server, re-read whenever the file's mtime or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = (-1, -1)  # never a real stamp: the first call reads
        self._by_digest: dict[str, str] = {}

    def _reload(self) -> None:
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                self._by_digest = {e.digest: e.station for e in read(self.path)} if stamp else {}
            except (TokenError, OSError, UnicodeDecodeError) as exc:  # keep the last good set
                log.kv(logger, logging.ERROR, "tokens file unreadable", path=str(self.path), error=str(exc))
            self._stamp = stamp

    def station_of(self, token: str) -> str | None:
        if not token or len(token) > 256:
            return None
        self._reload()
        return self._by_digest.get(digest(token))
