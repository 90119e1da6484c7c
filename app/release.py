"""Signed release bundles: build, sign, verify (docs/deployment.md, "Updates").

A release is one uncompressed tar (the wheels inside are compressed already):

    manifest.json                  first member: version, and the sha256 and size of every file
    wheels/<project wheel>         the program, installed with --no-deps
    requirements/station.lock      the locked, hashed dependencies
    wheelhouse/*.whl               optional: the locked wheels for the target platform

The signature is a detached file ``<bundle>.sig``: the hex Ed25519 signature of
``signed_message``, which binds the sha256 of the whole bundle file (so a download
cut short anywhere, even in the tar's padding, is refused) and of ``manifest.json``.
Verifying hashes the file, then streams the tar once: the manifest's signature first,
then every member against the manifest (regular files only, no path that leaves the
bundle, no extra file, none missing). A bad signature, a
truncated bundle or a file whose sha256 differs raises ``ReleaseError``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contract.ids import RELEASE_VERSION_PATTERN

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1 << 16
VERSION_RE = re.compile(RELEASE_VERSION_PATTERN)


class ReleaseError(Exception):
    """The bundle or its signature is unusable; nothing was installed."""


@dataclass(frozen=True)
class Manifest:
    version: str
    wheel: str
    lock: str
    files: dict[str, tuple[str, int]]  # path -> (sha256, size)
    raw: bytes

    @property
    def wheelhouse(self) -> bool:
        return any(p.startswith("wheelhouse/") for p in self.files)


def bundle_name(version: str) -> str:
    return f"acceptance-station-{version}.tar"


def sig_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".sig")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def lock_hashes(lock_text: str) -> set[str]:
    """Every ``--hash=sha256:...`` the lock allows."""
    return set(re.findall(r"--hash=sha256:([0-9a-f]{64})", lock_text))


def manifest_bytes(version: str, files: dict[str, Path], wheel: str, lock: str) -> bytes:
    """The canonical manifest (sorted keys, no spaces) of the files to bundle."""
    doc: dict[str, Any] = {
        "format": FORMAT, "name": "acceptance-station", "version": version,
        "wheel": wheel, "lock": lock,
        "files": {name: {"sha256": sha256_file(p), "size": p.stat().st_size}
                  for name, p in sorted(files.items())},
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def build(version: str, wheel: Path, lock: Path, out_dir: Path,
          wheelhouse: Iterable[Path] = ()) -> Path:
    """Write the bundle for ``version``; every wheelhouse wheel must be one the lock allows."""
    if not VERSION_RE.match(version):
        raise ReleaseError(f"version {version!r} is not a release version (e.g. 1.4.2)")
    if wheel.suffix != ".whl" or not wheel.is_file():
        raise ReleaseError(f"{wheel}: not a wheel file")
    if not lock.is_file():
        raise ReleaseError(f"{lock}: no such lock file")
    allowed = lock_hashes(lock.read_text(encoding="utf-8"))
    files = {f"wheels/{wheel.name}": wheel, "requirements/station.lock": lock}
    for w in sorted(wheelhouse):
        if sha256_file(w) not in allowed:
            raise ReleaseError(f"{w.name}: not in the lock (its sha256 is not a locked hash)")
        files[f"wheelhouse/{w.name}"] = w
    raw = manifest_bytes(version, files, f"wheels/{wheel.name}", "requirements/station.lock")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / bundle_name(version)
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(raw)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(raw))
        for name, path in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = path.stat().st_size
            info.mode = 0o644
            with path.open("rb") as f:
                tar.addfile(info, f)
    tmp.replace(out)
    return out


def signed_message(bundle_sha256: str, manifest_raw: bytes) -> bytes:
    manifest_sha = hashlib.sha256(manifest_raw).hexdigest()
    return f"acceptance-station release\nbundle {bundle_sha256}\nmanifest {manifest_sha}\n".encode()


def sign(bundle: Path, key: Ed25519PrivateKey) -> Path:
    """Write ``<bundle>.sig``: the signature of the bundle's and its manifest's sha256."""
    raw = read_manifest_bytes(bundle)
    out = sig_path(bundle)
    out.write_text(key.sign(signed_message(sha256_file(bundle), raw)).hex() + "\n", encoding="ascii")
    return out


def read_signature(bundle: Path) -> str:
    try:
        return sig_path(bundle).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReleaseError(f"{sig_path(bundle)}: cannot read the signature: {exc}") from exc


def verify_signature(bundle: Path, public_key: Ed25519PublicKey) -> Manifest:
    """The signature and the manifest only (a quick check before deciding to update)."""
    raw = read_manifest_bytes(bundle)
    check_signature(signed_message(sha256_file(bundle), raw), read_signature(bundle), public_key)
    return parse_manifest(raw)


def read_manifest_bytes(bundle: Path) -> bytes:
    try:
        with tarfile.open(bundle, "r:") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise ReleaseError(f"{bundle}: the first member is not {MANIFEST}")
            f = tar.extractfile(first)
            assert f is not None
            return f.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ReleaseError(f"{bundle}: not a readable bundle: {exc}") from exc


def parse_manifest(raw: bytes) -> Manifest:
    try:
        doc = json.loads(raw)
        files = {str(k): (str(v["sha256"]), int(v["size"])) for k, v in doc["files"].items()}
        m = Manifest(version=str(doc["version"]), wheel=str(doc["wheel"]), lock=str(doc["lock"]),
                     files=files, raw=raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ReleaseError(f"manifest is malformed: {exc}") from exc
    if doc.get("format") != FORMAT:
        raise ReleaseError(f"manifest format {doc.get('format')!r} is not {FORMAT}")
    if not VERSION_RE.match(m.version):
        raise ReleaseError(f"manifest version {m.version!r} is not a release version")
    for name in m.files:
        if not safe_member_name(name):
            raise ReleaseError(f"manifest names an unsafe path {name!r}")
    if m.wheel not in m.files or m.lock not in m.files:
        raise ReleaseError("manifest does not list its wheel and lock")
    return m


def safe_member_name(name: str) -> bool:
    """A relative path that stays inside the bundle (no '..', no absolute path)."""
    p = PurePosixPath(name)
    return (bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name
            and p.parts[0] in ("wheels", "requirements", "wheelhouse") and len(p.parts) == 2)


def check_signature(raw: bytes, signature_hex: str, public_key: Ed25519PublicKey) -> None:
    try:
        sig = bytes.fromhex(signature_hex.strip())
    except ValueError as exc:
        raise ReleaseError("signature file is not hex") from exc
    try:
        public_key.verify(sig, raw)
    except InvalidSignature as exc:
        raise ReleaseError("bad signature: not this bundle, or not signed by the release key "
                           "(a truncated or changed download fails here too)") from exc


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.strip()))
    except ValueError as exc:
        raise ReleaseError(f"release public key is not 32 bytes of hex: {exc}") from exc


def verify(bundle: Path, public_key: Ed25519PublicKey, extract_to: Path | None = None) -> Manifest:
    """Check the signature and every file; with ``extract_to``, write the files there too.

    The caller owns ``extract_to`` and deletes it when this raises.
    """
    signature = read_signature(bundle)
    try:
        bundle_sha = sha256_file(bundle)
        with tarfile.open(bundle, "r:") as tar:
            return _verify_members(tar, bundle_sha, signature, public_key, extract_to)
    except (tarfile.TarError, EOFError) as exc:
        raise ReleaseError(f"{bundle}: truncated or corrupt bundle: {exc}") from exc
    except OSError as exc:
        raise ReleaseError(f"{bundle}: cannot read or extract: {exc}") from exc


def _verify_members(tar: tarfile.TarFile, bundle_sha: str, signature: str,
                    public_key: Ed25519PublicKey, extract_to: Path | None) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise ReleaseError(f"the first member is not {MANIFEST}")
    mf = tar.extractfile(first)
    assert mf is not None
    raw = mf.read()
    check_signature(signed_message(bundle_sha, raw), signature, public_key)
    manifest = parse_manifest(raw)
    seen: set[str] = set()
    while (member := tar.next()) is not None:
        name = member.name
        if name in seen or name not in manifest.files:
            raise ReleaseError(f"{name!r} is not in the manifest (or appears twice)")
        if not member.isfile():
            raise ReleaseError(f"{name!r} is not a regular file")
        f = tar.extractfile(member)
        assert f is not None
        want_sha, want_size = manifest.files[name]
        dest = None if extract_to is None else extract_to / name
        got_sha, got_size = _copy_hashing(f, dest)
        if (got_sha, got_size) != (want_sha, want_size):
            raise ReleaseError(f"{name}: sha256 {got_sha[:12]}… size {got_size} differs from the "
                               f"manifest ({want_sha[:12]}…, {want_size})")
        seen.add(name)
    missing = sorted(set(manifest.files) - seen)
    if missing:
        raise ReleaseError(f"truncated bundle: missing {', '.join(missing)}")
    return manifest


def _copy_hashing(src: IO[bytes], dest: Path | None) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    out = None
    if dest is not None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = dest.open("wb")
    try:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    return h.hexdigest(), size
