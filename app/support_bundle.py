"""A support bundle: what a technician needs to diagnose a station remotely, and no secret.

A ``.tar.gz`` with, in this order (central reads ``doctor.json`` first, streaming):

- ``doctor.json``: the doctor's findings;
- ``versions.json``: program version, release (``current`` link), Python, platform, installed
  distributions, and the updater's state;
- ``config.json``: the station config with every secret-looking value replaced;
- ``database.txt``: ``PRAGMA integrity_check`` (read-only connection), journal and uplink counts;
- ``sync.json``: the uplink's state (cursor, backlog, last rejection, last status sent);
- ``logs/journald.txt`` (the station's units, when journald runs) and ``logs/<file>`` (the tail of
  each ``*.log`` under the data dir).

Secrets never leave: values under keys named like password/secret/token/pin are
replaced in the config, and before anything is written every member is scrubbed
of the bytes of the station key, the API token, the MQTT client key and each
redacted value (``secrets_of``), whatever member they turned up in.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Iterable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from app.config import StationConfig
from app.doctor import Finding
from app.fleet_status import current_release, read_update_state
from core import __version__

SECRET_KEY = re.compile(r"(password|passwd|secret|token|pin|private|credential|api_key)", re.I)
PATH_KEY = re.compile(r"(_file|_path|_dir)$")
REDACTED = "[REDACTED]"
LOG_TAIL_BYTES = 512 * 1024
JOURNALD_LINES = 5000


def redact(doc: Any, found: list[str], key: str = "") -> Any:
    """A copy of a parsed config with secret-looking values replaced; their text goes to ``found``.

    Paths (keys ending in _file, _path, _dir) are kept: the file they name is
    what is secret, and it is never read into the bundle.
    """
    if isinstance(doc, dict):
        return {k: redact(v, found, k) for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact(v, found, key) for v in doc]
    if key and SECRET_KEY.search(key) and not PATH_KEY.search(key):
        if isinstance(doc, str) and doc:  # numbers are redacted here but too common to scrub
            found.append(doc)
        return REDACTED
    return doc


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def secrets_of(cfg: StationConfig, extra: Iterable[str] = ()) -> list[bytes]:
    """Every byte string that must not appear in a bundle (longest first, so no piece survives)."""
    out: list[bytes] = [s.encode() for s in extra if len(s) >= 4]
    key_pem = _read(cfg.station.key_path)
    if key_pem:
        out.append(key_pem.strip())
        out += [line for line in key_pem.splitlines() if len(line) >= 16 and not line.startswith(b"-----")]
        try:
            from cryptography.hazmat.primitives import serialization

            key = serialization.load_pem_private_key(key_pem, password=None)
            raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
            out += [raw, raw.hex().encode(), raw.hex().upper().encode()]
        except (ValueError, TypeError):
            pass
    token = _read(cfg.orders.token_file)
    if token and token.strip():
        out.append(token.strip())
    tls_key = _read(cfg.uplink.broker.tls.key_file)
    if tls_key:
        out.append(tls_key.strip())
        out += [line for line in tls_key.splitlines() if len(line) >= 16 and not line.startswith(b"-----")]
    return sorted({s for s in out if s}, key=len, reverse=True)


def scrub(data: bytes, secrets: list[bytes]) -> bytes:
    for s in secrets:
        data = data.replace(s, REDACTED.encode())
    return data


def versions(cfg: StationConfig) -> dict[str, Any]:
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()
                   if d.metadata["Name"])
    return {"program": __version__, "release": current_release(cfg.update.root),
            "python": sys.version.split()[0], "platform": platform.platform(),
            "update_state": read_update_state(cfg.update.root), "distributions": dists}


def database_report(db_path: Path) -> str:
    """``PRAGMA integrity_check`` on a read-only connection, and a few counts."""
    if not db_path.exists():
        return f"{db_path}: does not exist\n"
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return f"{db_path}: cannot open read-only: {exc}\n"
    try:
        rows = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
        lines = [f"database {db_path}", f"size_bytes {db_path.stat().st_size}",
                 "integrity_check " + "; ".join(rows[:50])]
        for table, sql in (("events", "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events"),
                           ("sync_cursor", "SELECT COUNT(*), COALESCE(MAX(stored_through_seq), 0) "
                                           "FROM sync_cursor")):
            try:
                n, top = db.execute(sql).fetchone()
                lines.append(f"{table} rows {n} max {top}")
            except sqlite3.Error as exc:
                lines.append(f"{table} unreadable: {exc}")
        return "\n".join(lines) + "\n"
    except sqlite3.Error as exc:
        return f"{db_path}: integrity check failed to run: {exc}\n"
    finally:
        db.close()


def sync_report(cfg: StationConfig) -> dict[str, Any]:
    from core.db import connect
    from edge.journal import JournalReader
    from sync import state

    if not cfg.station.db_path.exists():
        return {"error": "no database"}
    db = connect(cfg.station.db_path)
    try:
        cursor, last = state.get_cursor(db, cfg.station.station_id), JournalReader(db).last_seq()
        return {"stored_through_seq": cursor, "last_seq": last, "backlog_events": max(0, last - cursor),
                "backlog_clips": state.clip_backlog(db), **state.get_state(db)}
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    finally:
        db.close()


def journald_logs(units: list[str], since_h: int) -> bytes | None:
    """The units' journal when journald runs here, else None."""
    tool = shutil.which("journalctl")
    if tool is None or not Path("/run/systemd/journal").is_dir():
        return None
    cmd = [tool, "--no-pager", "-o", "short-iso", "--since", f"-{since_h}h", "-n", str(JOURNALD_LINES)]
    for u in units:
        cmd += ["-u", u]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"journalctl failed: {exc}\n".encode()
    return r.stdout[-4 * LOG_TAIL_BYTES:] + (r.stderr[-2000:] if r.returncode else b"")


def log_files(data_dir: Path) -> dict[str, bytes]:
    """The tail of every ``*.log`` in the data dir and its ``logs/`` folder."""
    out: dict[str, bytes] = {}
    for path in sorted([*data_dir.glob("*.log"), *data_dir.glob("logs/*.log")])[:20]:
        try:
            with path.open("rb") as f:
                size = f.seek(0, 2)
                f.seek(max(0, size - LOG_TAIL_BYTES))
                out[f"logs/{path.name}"] = f.read()
        except OSError:
            continue
    return out


def members(cfg: StationConfig, config_path: Path, findings: list[Finding],
            since_h: int = 24) -> tuple[dict[str, bytes], list[str]]:
    """The bundle's files (name → bytes, in order) and the redacted values found in the config."""
    found: list[str] = []
    try:
        config_doc: Any = redact(tomllib.loads(config_path.read_text(encoding="utf-8")), found)
    except (OSError, ValueError) as exc:
        config_doc = {"error": f"config unreadable: {exc.__class__.__name__}"}
    doc = {"ok": all(f.ok for f in findings), "checks": [asdict(f) for f in findings]}
    files = {"doctor.json": doc, "versions.json": versions(cfg), "config.json": config_doc,
             "sync.json": sync_report(cfg)}
    out = {name: json.dumps(v, ensure_ascii=False, indent=1, default=str).encode()
           for name, v in files.items()}
    out["database.txt"] = database_report(cfg.station.db_path).encode()
    journal = journald_logs(list(cfg.update.units), since_h)
    if journal is not None:
        out["logs/journald.txt"] = journal
    out.update(log_files(cfg.station.data_dir))
    return out, found


def build(cfg: StationConfig, config_path: Path, findings: list[Finding], out_path: Path) -> str:
    """Write the scrubbed bundle to ``out_path``; returns its sha256."""
    files, found = members(cfg, config_path, findings)
    secrets = secrets_of(cfg, found)
    files = {name: scrub(data, secrets) for name, data in files.items()}
    files["MANIFEST.json"] = json.dumps({n: hashlib.sha256(d).hexdigest() for n, d in files.items()},
                                        indent=1).encode()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    with tarfile.open(out_path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(now), 0o644
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(out_path.read_bytes()).hexdigest()
