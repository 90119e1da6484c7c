"""Image upload (docs/contract.md §5): document photos and drawn signatures, like clips.

The station keeps these images by sha256 in ``<data_dir>/blobs`` (``edge.blobs``)
and journals only the hash: a ``document.captured`` names a photographed
document (``sha256``, ``file``), a ``rejection.disposed`` acknowledged by a
drawn signature names it in ``acknowledged_by`` (``signature_sha256``,
``signature_file``). Each becomes a row of ``image_uploads`` (the sha256 is
the id, so one image named twice is sent once) and is uploaded, once central
holds its event, with the clip uploader's ``HEAD``-then-``PUT`` (``send``)
and the same backoff. The station never deletes these images: they are part
of its own records.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

import requests

from core import log
from sync import state
from sync.clip_upload import FinalizedClips, Uploader, retry_delay, send
from sync.config import UplinkHost

logger = logging.getLogger("sync.images")
SHA = re.compile(r"^[0-9a-f]{64}$")
FILE = re.compile(r"^[0-9a-f]{64}\.(png|jpg)$")
CURSOR = "images_enqueued_through"


def images_of(docs: Iterable[tuple[int, dict[str, Any]]],
              disposed: Iterable[tuple[int, dict[str, Any]]]) -> list[tuple[int, str, str, str]]:
    """(seq, sha256, file, kind) of each image the events name; malformed names are skipped."""
    out: list[tuple[int, str, str, str]] = []
    for seq, body in docs:
        out.append((seq, str(body.get("sha256", "")), str(body.get("file", "")), "document"))
    for seq, body in disposed:
        ack = body.get("acknowledged_by")
        if isinstance(ack, dict) and ack.get("method") == "signature":
            out.append((seq, str(ack.get("signature_sha256", "")), str(ack.get("signature_file", "")),
                        "signature"))
    ok = [x for x in out if SHA.match(x[1]) and FILE.match(x[2]) and x[2].startswith(x[1])]
    return sorted(ok)


def enqueue_new(db: sqlite3.Connection, journal: FinalizedClips) -> int:
    """Add a row for each image named since the last pass; returns how many were added."""
    after = int(state.get_state(db).get(CURSOR, 0))
    docs = journal.bodies_of_type("document.captured", after)
    disposed = journal.bodies_of_type("rejection.disposed", after)
    last = max([after] + [s for s, _ in docs] + [s for s, _ in disposed])
    added = state.enqueue_images(db, images_of(docs, disposed))
    if last > after:
        state.put_state(db, CURSOR, last)
    return added


class ImageUploader(Uploader):
    def __init__(self, cfg: UplinkHost, db: sqlite3.Connection, journal: FinalizedClips,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(cfg, db, journal, session, clock, "blobs", "images")

    def upload_one(self, row: dict[str, Any]) -> bool:
        """One try for one image; True when central has it."""
        sha, attempts = row["sha256"], int(row["attempts"]) + 1
        ctype = "image/png" if row["file"].endswith(".png") else "image/jpeg"
        outcome, detail = send(self.session, self.base + sha, sha, self.folder / row["file"], ctype,
                               self.cfg.orders.timeout_s)
        if outcome == "stored":
            state.image_stored(self.db, sha)
            log.kv(logger, logging.INFO, "image stored at central", sha256=sha, kind=row["kind"], how=detail)
            return True
        delay = retry_delay(self.cfg, attempts, outcome == "final")
        state.image_failed(self.db, sha, attempts, self.clock() + delay, detail)
        log.kv(logger, logging.WARNING, "image upload failed", sha256=sha, kind=row["kind"], error=detail,
               retry_in_s=round(delay, 1))
        return False

    def step(self) -> int:
        """Enqueue new images and try every one that is due; returns how many were stored."""
        enqueue_new(self.db, self.journal)
        rows = state.images_due(self.db, self.clock(),
                                state.get_cursor(self.db, self.cfg.station.station_id))
        return sum(1 for row in rows if self.upload_one(row))
