"""Small real wheels and signed bundles for the release and update tests."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import release


def make_wheel(out_dir: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal, installable pure-Python wheel holding ``files`` (path -> text)."""
    dist = f"{name.replace('-', '_')}-{version}"
    whl = out_dir / f"{dist}-py3-none-any.whl"
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = dict(files)
    entries[f"{dist}.dist-info/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    entries[f"{dist}.dist-info/WHEEL"] = ("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                          "Tag: py3-none-any\n")
    record = []
    for path, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    entries[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(whl, "w") as z:
        for path, text in entries.items():
            z.writestr(path, text)
    return whl


def lock_for(path: Path, wheels: list[Path]) -> Path:
    """A lock in the format of requirements/*.lock allowing exactly ``wheels``."""
    lines = ["# test lock"]
    for w in wheels:
        name, version = w.name.split("-")[:2]
        sha = hashlib.sha256(w.read_bytes()).hexdigest()
        lines.append(f"{name.replace('_', '-')}=={version} \\\n    --hash=sha256:{sha}")
    path.write_text("\n".join(lines) + "\n")
    return path


def signed_bundle(out_dir: Path, version: str, wheel: Path, lock: Path, key: Ed25519PrivateKey,
                  wheelhouse: list[Path] | None = None) -> Path:
    bundle = release.build(version, wheel, lock, out_dir, wheelhouse or [])
    release.sign(bundle, key)
    return bundle
