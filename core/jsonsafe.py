"""Strict JSON for input from outside: what ``json.loads`` lets through, refused.

``json.loads`` accepts ``NaN`` and ``Infinity``, turns ``1e309`` into infinity,
parses integers far beyond what a record can carry, keeps the last of two equal
keys, decodes ``"\\ud800"`` into a string that cannot be written as UTF-8, and
raises ``RecursionError`` on deep nesting. ``loads`` refuses each of these with
a ``JSONRefused`` (a ``ValueError``) whose message names the problem, so every
caller handles one error and nothing else escapes.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_SAFE_INT = 2**53  # the integers a JavaScript client (and a float) can hold exactly
MAX_DEPTH = 32
MAX_STRING = 1 << 20


class JSONRefused(ValueError):
    """The text is not JSON we accept; the message says why."""


def _constant(name: str) -> Any:
    raise JSONRefused(f"{name} is not a JSON number")


def _int(text: str) -> int:
    # The length check comes first: int() of a huge digit string is itself costly.
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_SAFE_INT:
        raise JSONRefused(f"integer {text[:20]}{'…' if len(text) > 20 else ''} is out of range "
                          f"(at most ±2^53)")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_SAFE_INT:
        raise JSONRefused(f"number {text[:20]} is out of range")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise JSONRefused(f"key {k[:40]!r} appears twice in one object")
        out[k] = v
    return out


def _check(value: Any, max_depth: int, max_string: int) -> None:
    """Depth, string length and lone surrogates, without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            _check_str(v, max_string)
        elif isinstance(v, dict | list):
            if depth > max_depth:
                raise JSONRefused(f"nested deeper than {max_depth} levels")
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, x in items:
                if isinstance(k, str):
                    _check_str(k, max_string)
                stack.append((x, depth + 1))


def _check_str(s: str, max_string: int) -> None:
    if len(s) > max_string:
        raise JSONRefused(f"a string is longer than {max_string} characters")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise JSONRefused("a string holds a lone surrogate (not valid Unicode)") from None


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_bytes: int | None = None,
          max_string: int = MAX_STRING, parse_float: Any = None) -> Any:
    """Parse ``text`` strictly; any problem is a ``JSONRefused`` naming it.

    ``parse_float`` (e.g. ``str`` to keep decimals exact) replaces the finite-float
    check; non-finite constants are refused either way.
    """
    if max_bytes is not None and len(text) > max_bytes:
        raise JSONRefused(f"larger than {max_bytes} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONRefused(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_int=_int,
                           parse_float=parse_float or _float, object_pairs_hook=_object)
    except JSONRefused:
        raise
    except RecursionError:
        raise JSONRefused(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, int digit limit
        raise JSONRefused(f"not valid JSON: {exc}") from None
    _check(value, max_depth, max_string)
    return value
