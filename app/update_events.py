"""Update steps handed from the updater to the station, which alone writes the journal.

The updater (``update apply``, root) writes each step as one JSON file in
``<data_dir>/update-events/`` (written to a temporary name, then renamed, so the
station never reads half a file). The station journals every file in name order
(``update.started``, ``update.applied``, ``update.rolled_back``...) at start and then
every few seconds, deleting each file after its event is committed. A crash
between the two journals the step again with the same ``request_id``: at least
once, never lost; readers count a ``request_id`` once.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from core import log

logger = logging.getLogger(__name__)
SPOOL = "update-events"


class Appender(Protocol):
    def append(self, type_: str, body: dict[str, Any]) -> dict[str, Any]: ...


def spool_dir(data_dir: Path) -> Path:
    return data_dir / SPOOL


def write_request(data_dir: Path, step: str, detail: dict[str, Any]) -> Path:
    """Hand ``update.<step>`` to the station; the file name orders the steps."""
    spool = spool_dir(data_dir)
    if not spool.is_dir():
        spool.mkdir(parents=True, exist_ok=True)
        # The updater runs as root; the station (the data_dir's owner) must delete the files.
        owner = data_dir.stat()
        if (owner.st_uid, owner.st_gid) != (os.getuid(), os.getgid()):
            os.chown(spool, owner.st_uid, owner.st_gid)
    body = {"request_id": str(uuid.uuid4()), **detail}
    name = f"{time.time_ns():020d}-{step}.json"
    tmp = spool / f".{name}.tmp"
    tmp.write_text(json.dumps({"type": f"update.{step}", "body": body}), encoding="utf-8")
    os.replace(tmp, spool / name)
    return spool / name


def drain(journal: Appender, data_dir: Path) -> int:
    """Journal every pending step, oldest first; a malformed file is journaled as such, not lost."""
    spool = spool_dir(data_dir)
    try:
        names = sorted(p for p in spool.glob("*.json") if not p.name.startswith("."))
    except OSError:
        return 0
    if names and not os.access(spool, os.W_OK):
        # Journaling a step it cannot then delete would journal it again on every pass.
        log.kv(logger, logging.ERROR, "update steps not journaled: spool not writable", spool=str(spool))
        return 0
    done = 0
    for path in names:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            type_, body = str(doc["type"]), dict(doc["body"])
            if not type_.startswith("update."):
                raise ValueError(f"type {type_!r} is not an update step")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            type_, body = "update.unreadable", {"file": path.name, "error": str(exc)[:200]}
        try:
            journal.append(type_, body)
        except ValueError as exc:  # a body the journal refuses (e.g. a float): recorded as such
            journal.append("update.unreadable", {"file": path.name, "error": str(exc)[:200]})
        path.unlink(missing_ok=True)
        done += 1
        log.kv(logger, logging.INFO, "update step journaled", type=type_)
    return done
