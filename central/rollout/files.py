"""Release bundles on central's disk, by sha256: ``<[releases] dir>/objects/<sha256>``.

The admin's ``central-admin release publish`` has verified the bundle and its
signature against the release key before it calls ``store_bundle``; the copy is
hashed again while written (to a temporary name, fsynced, then renamed), so the
object's name is always its content's sha256.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

SHA = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


def object_path(releases_dir: Path, sha256: str) -> Path:
    if not SHA.match(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return releases_dir / "objects" / sha256


def store_bundle(releases_dir: Path, bundle: Path, sha256: str, max_bytes: int) -> int:
    """Copy ``bundle`` in as objects/<sha256>; its size. Raises ValueError when it is not that file."""
    dest = object_path(releases_dir, sha256)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{sha256}.{os.getpid()}.part")
    h, size = hashlib.sha256(), 0
    try:
        with bundle.open("rb") as src, tmp.open("wb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"{bundle}: larger than [releases] max_bundle_bytes ({max_bytes})")
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != sha256:
            raise ValueError(f"{bundle} changed while it was copied (sha256 differs)")
        os.replace(tmp, dest)
        return size
    finally:
        tmp.unlink(missing_ok=True)
