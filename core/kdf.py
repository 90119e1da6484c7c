"""scrypt (memory-hard) secret hashes as PHC strings, for station PINs and central's passwords.

``$scrypt$ln=14,r=8,p=1$<salt>$<hash>`` with unpadded standard base64: the
cost travels with the hash, so it can be raised without touching old hashes.
``hashlib.scrypt`` is OpenSSL's implementation (the standard library's); the
comparison is constant-time. Costs outside sane bounds are refused before any
work, so a bad hash cannot make a check take minutes or gigabytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

LN, R, P = 14, 8, 1  # 2^14 × 8 × 128 B = 16 MiB per hash: memory-hard, ~50 ms on x86
DKLEN = 32
_PHC = re.compile(r"^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d)\$([A-Za-z0-9+/]{16,64})\$([A-Za-z0-9+/]{43})$")


class HashError(ValueError):
    """A hash that is not a scrypt PHC string with an accepted cost."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(secret: str, salt: bytes, ln: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=1 << ln, r=r, p=p, dklen=DKLEN,
                          maxmem=256 * 1024 * 1024)


def hash_secret(secret: str, *, ln: int = LN, r: int = R, p: int = P) -> str:
    """A new PHC string for ``secret`` with a random 16-byte salt."""
    salt = os.urandom(16)
    return f"$scrypt$ln={ln},r={r},p={p}${_b64(salt)}${_b64(_scrypt(secret, salt, ln, r, p))}"


def check_hash(phc: str) -> tuple[int, int, int, bytes, bytes]:
    """(ln, r, p, salt, hash) of a PHC string, or HashError saying what is wrong."""
    m = _PHC.match(phc)
    if m is None:
        raise HashError("not a $scrypt$ln=..,r=..,p=..$salt$hash string")
    ln, r, p = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (10 <= ln <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
        raise HashError(f"scrypt cost ln={ln},r={r},p={p} outside ln 10-20, r 1-16, p 1-4")
    return ln, r, p, _unb64(m.group(4)), _unb64(m.group(5))


def verify_secret(secret: str, phc: str) -> bool:
    """Whether ``secret`` matches ``phc`` (constant-time compare); HashError for a malformed hash."""
    ln, r, p, salt, digest = check_hash(phc)
    return hmac.compare_digest(_scrypt(secret, salt, ln, r, p), digest)
