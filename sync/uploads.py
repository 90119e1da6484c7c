"""The uplink's upload thread: clips (``sync.clip_upload``), then images (``sync.image_upload``)."""

from __future__ import annotations

import sqlite3
import threading

from core.threads import Periodic
from sync.clip_upload import ClipUploader, FinalizedClips
from sync.config import UplinkHost
from sync.image_upload import ImageUploader


def start(cfg: UplinkHost, stop: threading.Event, db: sqlite3.Connection,
          journal: FinalizedClips, interval_s: float = 2.0) -> Periodic:
    """The uploader's thread in the uplink process (give it a DB connection of its own).

    Each pass uploads the due clips, then the due images.
    """
    clips, images = ClipUploader(cfg, db, journal), ImageUploader(cfg, db, journal)
    worker = Periodic("clip-upload", lambda: clips.step() + images.step(), interval_s, stop=stop)
    worker.start()
    return worker
