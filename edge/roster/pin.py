"""PIN hashes of the roster: scrypt PHC strings (``core.kdf``), for 4-12 digit PINs.

The cost travels with the hash, so central can raise it without a station update;
a bad roster's cost is refused before any work (``core.kdf.check_hash``).
"""

from __future__ import annotations

import re

from core.kdf import LN, P, R, check_hash, hash_secret, verify_secret
from core.kdf import HashError as PinHashError

PIN = re.compile(r"^\d{4,12}$")
__all__ = ["PIN", "PinHashError", "check_hash", "hash_pin", "verify_pin"]


def hash_pin(pin: str, *, ln: int = LN, r: int = R, p: int = P) -> str:
    """A new PHC string for ``pin`` (4-12 digits) with a random 16-byte salt."""
    if not PIN.match(pin):
        raise ValueError("a PIN is 4 to 12 digits")
    return hash_secret(pin, ln=ln, r=r, p=p)


def verify_pin(pin: str, phc: str) -> bool:
    """Whether ``pin`` matches ``phc`` (constant-time compare; a malformed PIN never does)."""
    if not PIN.match(pin):
        return False
    return verify_secret(pin, phc)
