"""Document photos and drawn signatures reach central like clips: claimed by a signed event, typed, once.

Real parts: the station's journal and blob store, central's ingest (the events
central must hold first), central's HTTP API on a free port (SQLite and
PostgreSQL stores), the uplink's ``ImageUploader`` with its own session.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import requests

from app.config import StationConfig
from central.api import serve_in_thread
from central.images import image_path
from edge.blobs import BlobStore
from edge.journal import Journal, JournalReader
from sync import state
from sync.image_upload import ImageUploader
from tests.sync_harness import central_http, station_token, sync_to_central
from tests.test_video_upload import upload_station

STATION = "image-station-01"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 20


def _station(tmp: Path, url: str, token_file: Path) -> tuple[StationConfig, Journal]:
    return upload_station(tmp, url, token_file, STATION)


def _records(cfg: StationConfig, j: Journal) -> tuple[str, str]:
    """A photographed quarantine certificate and a rejection acknowledged by a drawn signature."""
    blobs = BlobStore(cfg.station.data_dir / "blobs")
    doc_sha, doc_file = blobs.put(JPEG)
    sig_sha, sig_file = blobs.put(PNG)
    delivery = str(uuid.uuid4())
    j.append("document.captured", {"delivery_id": delivery, "placement_id": str(uuid.uuid4()),
                                   "kind": "animal_quarantine", "label": "动物检疫合格证明",
                                   "sha256": doc_sha, "file": doc_file, "bytes": len(JPEG)})
    # The same photo captured again (another item of the delivery): uploaded once.
    j.append("document.captured", {"delivery_id": delivery, "placement_id": str(uuid.uuid4()),
                                   "kind": "animal_quarantine", "label": "动物检疫合格证明",
                                   "sha256": doc_sha, "file": doc_file, "bytes": len(JPEG)})
    j.append("rejection.disposed", {
        "delivery_id": delivery, "line_id": "3", "item": "猪肉", "rejected": {"seq": 1, "event_id": "x"},
        "disposition": "returned", "disposition_zh": "退回供应商",
        "acknowledged_by": {"method": "signature", "signature_sha256": sig_sha,
                            "signature_file": sig_file, "signature_bytes": len(PNG)},
        "inspectors": ["a", "b"], "inspector_names": ["甲", "乙"]})
    return doc_sha, sig_sha


def test_documents_and_signatures_uploaded_once_forgeries_refused(tmp_path: Path, dsn: str) -> None:
    ccfg, url = central_http(tmp_path, dsn=dsn, image_max_bytes=100_000)
    token = station_token(ccfg, STATION, tmp_path)
    cfg, j = _station(tmp_path, url, token)
    doc_sha, sig_sha = _records(cfg, j)
    now = [1000.0]
    up = ImageUploader(cfg, j.db, JournalReader(j.db), clock=lambda: now[0])
    assert up.step() == 0  # central does not hold the events yet: not even tried
    assert state.image_backlog(j.db) == 2
    assert j.db.execute("SELECT sum(attempts) FROM image_uploads").fetchone()[0] == 0
    state.set_cursor(j.db, STATION, sync_to_central(j, STATION, ccfg.store.dsn, tmp_path / "keys"))
    assert up.step() == 0  # central down: retries scheduled, nothing lost
    assert j.db.execute("SELECT min(next_try_at) FROM image_uploads").fetchone()[0] == 1005.0

    server = serve_in_thread(ccfg)
    clips_dir = ccfg.http.clips_dir
    try:
        now[0] += 5
        up2 = ImageUploader(cfg, j.db, JournalReader(j.db), clock=lambda: now[0])  # a restarted uplink
        assert up2.step() == 2 and state.image_backlog(j.db) == 0
        stored_doc = image_path(clips_dir, STATION, doc_sha)
        stored_sig = image_path(clips_dir, STATION, sig_sha)
        assert stored_doc is not None and stored_doc.read_bytes() == JPEG
        assert stored_sig is not None and stored_sig.read_bytes() == PNG
        assert up2.step() == 0  # stored once
        s = up2.session
        base = f"{url}/v1/stations/{STATION}/images/"
        h = s.head(base + doc_sha, timeout=5)
        assert h.status_code == 200 and h.headers["X-Content-SHA256"] == doc_sha
        assert s.put(base + doc_sha, data=JPEG, headers={"X-Content-SHA256": doc_sha},
                     timeout=5).status_code == 200  # the same again: 200

        # A forged document: honest hash, valid JPEG, but no event of this station names it.
        forged = JPEG + b"forged"
        f_sha = hashlib.sha256(forged).hexdigest()
        r = s.put(base + f_sha, data=forged, headers={"X-Content-SHA256": f_sha}, timeout=5)
        assert r.status_code == 403
        assert s.head(base + f_sha, timeout=5).status_code == 404
        assert image_path(clips_dir, STATION, f_sha) is None
        # A header hash other than the path's; a tampered body under a signed hash.
        assert s.put(base + doc_sha, data=JPEG, headers={"X-Content-SHA256": f_sha},
                     timeout=5).status_code == 400
        # No token; another station's token.
        assert requests.put(base + doc_sha, data=JPEG, headers={"X-Content-SHA256": doc_sha},
                            timeout=5).status_code == 401
        other = station_token(ccfg, "image-station-02", tmp_path)
        assert requests.head(base + doc_sha, timeout=5, headers={
            "Authorization": f"Bearer {other.read_text().strip()}"}).status_code == 403
        objects = sorted(o.name for o in (clips_dir / "objects").iterdir())
        assert objects == sorted([doc_sha, sig_sha])
    finally:
        server.shutdown()


def test_images_must_be_images_of_the_right_kind_and_size(tmp_path: Path) -> None:
    ccfg, url = central_http(tmp_path, image_max_bytes=20_000)
    token = station_token(ccfg, STATION, tmp_path)
    _, j = _station(tmp_path, url, token)
    text = b"%PDF-1.4 not an image at all"
    big = JPEG + bytes(20_000)
    bodies = {"text": text, "jpeg-signature": JPEG, "big": big}
    shas = {k: hashlib.sha256(v).hexdigest() for k, v in bodies.items()}
    for k in ("text", "big"):
        j.append("document.captured", {"delivery_id": "d", "placement_id": "p", "kind": "x", "label": "x",
                                       "sha256": shas[k], "file": shas[k] + ".jpg", "bytes": 1})
    j.append("rejection.disposed", {"acknowledged_by": {
        "method": "signature", "signature_sha256": shas["jpeg-signature"],
        "signature_file": shas["jpeg-signature"] + ".png", "signature_bytes": 1}})
    sync_to_central(j, STATION, ccfg.store.dsn, tmp_path / "keys")
    server = serve_in_thread(ccfg)
    try:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token.read_text().strip()}"
        base = f"{url}/v1/stations/{STATION}/images/"

        def put(kind: str) -> int:
            return s.put(base + shas[kind], data=bodies[kind], headers={"X-Content-SHA256": shas[kind]},
                         timeout=5).status_code

        assert put("text") == 415  # signed, but not a JPEG or PNG
        assert put("jpeg-signature") == 415  # a drawn signature is a PNG
        assert put("big") == 413
        assert s.head(base + "../" + shas["text"], timeout=5).status_code == 404
        assert not (ccfg.http.clips_dir / "images").exists()
        assert list((ccfg.http.clips_dir / "objects").iterdir()) == []
    finally:
        server.shutdown()
