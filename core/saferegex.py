"""Regular expressions from configuration, matched in linear time.

A badge or thermometer pattern is written by a technician and matched against
text from a scanner or a serial line. Python's ``re`` backtracks: ``^(a+)+$``
takes exponential time on ``aaaa…b`` and hangs the scan thread. So patterns
from config are

* checked (``problem``): they must compile in RE2 (no backreferences or
  lookaround) and must not repeat a group made only of variable-length items
  (``(a+)+``, ``(\\d{1,2})+``), the classic shape that backtracks
  catastrophically in backtracking engines (a courtesy: subtler ambiguous
  shapes such as ``(a|aa)+`` are not caught, and need not be);
* matched with RE2 (``compile``: google-re2), which guarantees time linear in
  the input whatever the pattern.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Any

import re2

# Python's own regex parser (re._parser; sre_parse is its deprecated alias): the
# structure of a pattern without compiling it.
_p: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT)}


def _options() -> Any:
    o = re2.Options()
    o.log_errors = False  # RE2 would print its own error to stderr
    return o


def _variable(item: Any) -> bool:
    """An item that can match more or less text: ``x*``, ``x+``, ``x?``, ``x{1,2}``."""
    op, av = item
    return op in _REPEATS and av[0] != av[1]


def _body(items: Any) -> list[Any]:
    """A group's items, with plain groups around a single item unwrapped."""
    out: list[Any] = list(items)
    while len(out) == 1 and out[0][0] == _c.SUBPATTERN:
        out = list(out[0][1][-1])
    return out


def _nested(items: Any) -> bool:
    """A repeated group made only of variable-length items (``(a+)+``, ``(x*)*``,
    ``(\\d{1,2})+``, ``(a+b?)+``): a backtracking engine tries every way to split the
    input between the iterations. A group with a fixed part (``([a-z]+\\.)*``) is fine."""
    for op, av in items:
        if op in _REPEATS:
            _, hi, sub = av
            body = _body(sub)
            if hi > 1 and body and all(_variable(i) for i in body):
                return True
            if _nested(sub):
                return True
        elif op == _c.SUBPATTERN:
            if _nested(av[-1]):
                return True
        elif op == _c.BRANCH:
            if any(_nested(b) for b in av[1]):
                return True
        elif op in (_c.ASSERT, _c.ASSERT_NOT) and _nested(av[1]):
            return True
    return False


def problem(pattern: str) -> str | None:
    """Why ``pattern`` is refused, or None when it is fine."""
    try:
        re2.compile(pattern, _options())
    except re2.error as exc:
        msg = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return f"not a valid RE2 regex ({msg}; no backreferences or lookaround)"
    try:
        parsed = _p.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None  # RE2-only syntax: nothing to backtrack, RE2 matches it
    if _nested(parsed):
        return ("a repeated group of only variable-length parts (like (a+)+) backtracks "
                "catastrophically; write it without the nesting")
    return None


@lru_cache(maxsize=32)
def compile(pattern: str | bytes) -> Any:
    """The RE2 pattern (``fullmatch``, ``search``, ``groupdict``, ``groupindex``)."""
    return re2.compile(pattern, _options())
