"""The hash chain of docs/contract.md §3 as pure functions.

Canonical JSON, event hashing, signing and verification live here with no I/O,
so the station's ``verify`` command and the central ingest check events with
exactly the same code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS_HASH = "0" * 64
EVENT_FIELDS = (
    "seq", "event_id", "type", "station_id", "at", "clock_synced", "boot_id", "prev_hash", "body",
)


class FloatInRecord(ValueError):
    """A float reached signed data; records carry ints or decimal strings only."""


def check_no_floats(value: Any, path: str = "body") -> None:
    """Raise FloatInRecord naming the path of the first float (or non-JSON value)."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, float):
        raise FloatInRecord(f"{path}: floats are not allowed in records ({value!r}); "
                            "use integer grams/fen or a decimal string")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{path}: object keys must be strings, got {k!r}")
            check_no_floats(v, f"{path}.{k}")
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_no_floats(v, f"{path}[{i}]")
        return
    raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(obj: Any) -> bytes:
    """Keys sorted, separators ``,`` and ``:``, no ASCII escaping, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def event_hash(event: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of the event without ``hash`` and ``sig``."""
    unsigned = {k: v for k, v in event.items() if k not in ("hash", "sig")}
    return hashlib.sha256(canonical_json(unsigned)).hexdigest()


def sign_hash(key: Ed25519PrivateKey, hex_hash: str) -> str:
    return base64.b64encode(key.sign(bytes.fromhex(hex_hash))).decode("ascii")


def seal(unsigned: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return the event with ``hash`` and ``sig`` added."""
    check_no_floats(unsigned.get("body"))
    h = event_hash(unsigned)
    return {**unsigned, "hash": h, "sig": sign_hash(key, h)}


@dataclass(frozen=True)
class ChainProblem:
    """The first thing wrong with a chain: the seq it was found at and what is wrong."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.problem}"


def check_event(event: dict[str, Any], public_key: Ed25519PublicKey) -> str | None:
    """Check one event on its own (shape, no floats, hash, signature); None when good."""
    missing = [f for f in (*EVENT_FIELDS, "hash", "sig") if f not in event]
    if missing:
        return f"missing fields: {', '.join(missing)}"
    try:
        check_no_floats(event)
    except ValueError as exc:
        return str(exc)
    if not isinstance(event["seq"], int) or isinstance(event["seq"], bool) or event["seq"] < 1:
        return "seq must be a positive integer"
    h = event_hash(event)
    if h != event["hash"]:
        return f"hash mismatch: stored {str(event['hash'])[:16]}…, computed {h[:16]}…"
    try:
        public_key.verify(base64.b64decode(event["sig"], validate=True), bytes.fromhex(h))
    except (InvalidSignature, ValueError, TypeError):
        return "signature does not verify against the station's public key"
    return None


def verify_chain(
    events: Iterable[dict[str, Any]],
    public_key: Ed25519PublicKey,
    *,
    start_seq: int = 1,
    prev_hash: str = GENESIS_HASH,
) -> Iterator[ChainProblem]:
    """Yield every problem in seq order (hash, prev_hash link, continuity, signature).

    ``start_seq``/``prev_hash`` let central continue a chain it already holds.
    """
    expected = start_seq
    for event in events:
        seq = event.get("seq")
        if seq != expected:
            where = seq if isinstance(seq, int) else expected
            if isinstance(seq, int) and seq > expected:
                yield ChainProblem(expected, f"missing (next event present is seq {seq})")
            else:
                yield ChainProblem(where, f"out of order or repeated (expected seq {expected})")
        bad = check_event(event, public_key)
        if bad:
            yield ChainProblem(seq if isinstance(seq, int) else expected, bad)
        elif event["prev_hash"] != prev_hash:
            yield ChainProblem(event["seq"], "prev_hash does not link to the previous event's hash")
        prev_hash = str(event.get("hash", ""))
        expected = (seq if isinstance(seq, int) else expected) + 1


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    raw = bytes.fromhex(text.strip())
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes (64 hex characters)")
    return Ed25519PublicKey.from_public_bytes(raw)
