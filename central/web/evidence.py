"""What a warning's page shows as evidence: the events it names (as central holds them), their
clips and the photographed documents and drawn signatures when uploaded, the school's
documents, and whether the station's chain verifies.

The chain status is central's real verification (``central.audit``), kept incremental by one
``Auditor`` per app (each page only verifies what arrived since the last one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from central import audit
from central.ingest import KeyRegistry
from central.store import Store
from central.web.auth import pool

CLIP_ID = re.compile(r"^[0-9a-f-]{36}$")


@dataclass(frozen=True)
class EventEvidence:
    station_id: str
    seq: int
    type: str
    at: str
    hash: str
    held: bool  # central holds this event with the hash the warning names
    body: dict[str, Any]
    clip_id: str | None
    images: tuple[tuple[str, str], ...] = ()  # (label, sha256): documents, a driver's signature


SHA = re.compile(r"^[0-9a-f]{64}$")


def images_of(body: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The images an event names: a line's photographed documents (``documents``), a document
    photo itself (``document.captured``), a disposal's drawn signature."""
    out: list[tuple[str, str]] = []
    docs = body.get("documents")
    for d in (docs if isinstance(docs, list) else [])[:20]:
        if isinstance(d, dict) and isinstance(d.get("sha256"), str) and SHA.match(d["sha256"]):
            out.append((str(d.get("label") or d.get("kind") or "随货证明")[:40], d["sha256"]))
    if isinstance(body.get("sha256"), str) and SHA.match(body["sha256"]):
        out.append((str(body.get("label") or "随货证明")[:40], body["sha256"]))
    ack = body.get("acknowledged_by")
    if isinstance(ack, dict) and isinstance(ack.get("signature_sha256"), str) \
            and SHA.match(ack["signature_sha256"]):
        out.append(("司机签名", ack["signature_sha256"]))
    return tuple(dict.fromkeys(out))


def events(store: Store, evidence: dict[str, Any], limit: int = 100) -> list[EventEvidence]:
    """The events the warning's evidence names, read from ``central_events``."""
    out = []
    refs = evidence.get("events")
    for ref in (refs if isinstance(refs, list) else [])[:limit]:
        if not isinstance(ref, dict) or not isinstance(ref.get("seq"), int):
            continue
        station, seq = str(ref.get("station_id", "")), int(ref["seq"])
        rows = store.rows("SELECT type, at, hash, event FROM central_events WHERE station_id=? AND seq=?",
                          (station, seq))
        if not rows:
            out.append(EventEvidence(station, seq, str(ref.get("type", "?")), "", str(ref.get("hash", "")),
                                     False, {}, None))
            continue
        typ, at, hsh, text = rows[0]
        body = json.loads(text).get("body")
        body = body if isinstance(body, dict) else {}
        clip = body.get("clip_id")
        out.append(EventEvidence(station, seq, str(typ), str(at), str(hsh), str(hsh) == ref.get("hash"), body,
                                 str(clip) if isinstance(clip, str) and CLIP_ID.match(clip) else None,
                                 images_of(body)))
    return out


def clip_object(clips_dir: Path, station: str, clip_id: str) -> Path | None:
    """The uploaded clip file of a station's clip id (``central.clips``' index), or None."""
    if not CLIP_ID.match(clip_id) or not re.match(r"^[a-z0-9][a-z0-9-]{2,63}$", station):
        return None
    try:
        sha = (clips_dir / "index" / station / clip_id).read_text().strip()
    except OSError:
        return None
    obj = clips_dir / "objects" / sha
    return obj if re.match(r"^[0-9a-f]{64}$", sha) and obj.is_file() else None


def auditor(request: Request) -> audit.Auditor:
    state = request.app.state
    if getattr(state, "web_auditor", None) is None:
        state.web_auditor = audit.Auditor(pool(request).use, KeyRegistry(state.cfg.registry.keys_dir))
    return state.web_auditor  # type: ignore[no-any-return]
