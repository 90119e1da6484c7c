"""Images the station keeps beside its records, content-addressed (signatures, documents).

``BlobStore.put`` writes ``<dir>/<sha256><suffix>`` through a temporary file,
fsyncs it and renames it into place, so a journaled sha256 always names a
complete file; the same bytes twice are one file. Records carry only the hash.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


class BlobError(ValueError):
    """The bytes are not an image of an accepted kind, or too large."""


def image_suffix(data: bytes) -> str:
    if data.startswith(PNG):
        return ".png"
    if data.startswith(JPEG):
        return ".jpg"
    raise BlobError("not a PNG or JPEG image")


class BlobStore:
    def __init__(self, folder: Path, max_bytes: int = 8_000_000) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def put(self, data: bytes) -> tuple[str, str]:
        """Store an image durably; returns (sha256, file name)."""
        if not data or len(data) > self.max_bytes:
            raise BlobError(f"an image is 1 to {self.max_bytes} bytes")
        suffix = image_suffix(data)
        sha = hashlib.sha256(data).hexdigest()
        name = sha + suffix
        path = self.folder / name
        if path.exists():
            return sha, name
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return sha, name

    def path(self, name: str) -> Path | None:
        """The stored file ``name`` (``<sha256>.png|.jpg``), or None."""
        if len(name) != 68 or not all(c in "0123456789abcdef" for c in name[:64]) \
                or name[64:] not in (".png", ".jpg"):
            return None
        p = self.folder / name
        return p if p.is_file() else None
