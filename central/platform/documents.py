"""Uploaded explanations, content-addressed: ``documents_dir/objects/<sha256>``, each checked first.

Only a PDF, a PNG or a JPEG (recognised by its first bytes, whatever the browser claims), of at
most ``max_bytes``, is kept; the type stored is the one recognised. Writing is a temporary file,
fsync and rename, so a crash never leaves half a document under its hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

SHA = re.compile(r"^[0-9a-f]{64}$")
KINDS = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


class DocumentError(ValueError):
    """An upload refused: empty, too large or not a PDF/PNG/JPEG (the message is zh-CN, for the page)."""


def kind_of(data: bytes) -> str | None:
    return next((t for magic, t in KINDS if data.startswith(magic)), None)


def check(data: bytes, max_bytes: int) -> str:
    """The document's content type, or DocumentError."""
    if not data:
        raise DocumentError("文件为空")
    if len(data) > max_bytes:
        raise DocumentError(f"文件超过 {max_bytes // 1_000_000} MB 上限")
    kind = kind_of(data)
    if kind is None:
        raise DocumentError("只接受 PDF、PNG 或 JPEG 文件")
    return kind


def save(documents_dir: Path, data: bytes, max_bytes: int) -> tuple[str, str]:
    """Store a checked document once; (sha256, content type)."""
    kind = check(data, max_bytes)
    sha = hashlib.sha256(data).hexdigest()
    objects = documents_dir / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    target = objects / sha
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=objects, prefix=".in-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return sha, kind


def path_of(documents_dir: Path, sha: str) -> Path | None:
    """The stored document of ``sha`` (None for a malformed hash or a missing file)."""
    if not SHA.match(sha):
        return None
    path = documents_dir / "objects" / sha
    return path if path.is_file() else None
