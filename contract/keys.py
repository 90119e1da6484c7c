"""The station's Ed25519 signing key: created once, mode 0600, never logged."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyError_(Exception):
    """The key is missing, unreadable, unsafe or not an Ed25519 key."""


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def init_key(path: Path) -> Ed25519PrivateKey:
    """Create a new key at ``path`` (0600) and its public key at ``path.pub``.

    Refuses to overwrite: a station's key is its identity at central, so replacing
    it by accident would orphan its chain.
    """
    if path.exists():
        raise KeyError_(f"{path} already exists; refusing to overwrite the station key")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o600)
    pub_path = path.with_name(path.name + ".pub")
    pub_path.write_text(public_hex(key) + "\n", encoding="ascii")
    return key


def key_problem(path: Path) -> str | None:
    """Why the key at ``path`` is unsafe to use, or None."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{path} does not exist (run `acceptance-station keys init --key {path}`)"
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is readable by others (mode {oct(st.st_mode & 0o777)}); chmod 600 it"
    return None


def load_key(path: Path) -> Ed25519PrivateKey:
    problem = key_problem(path)
    if problem:
        raise KeyError_(problem)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise KeyError_(f"{path}: not a readable private key ({exc.__class__.__name__})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_(f"{path}: not an Ed25519 key")
    return key
