"""Structured logging to stderr (journald on a Pi).

One line per record, ``key=value`` pairs after the message, so that journald and
a technician's ``grep`` both work. Never log secrets: callers pass ids and paths,
not keys or tokens.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

_FMT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _KVFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields: dict[str, Any] = getattr(record, "fields", {})
        if fields:
            base += " " + " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        return base


def _quote(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def setup(level: str = "INFO") -> None:
    """Route all logging to stderr with the key=value formatter (idempotent)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_acceptance", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KVFormatter(_FMT))
    handler._acceptance = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


def kv(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """Log ``msg`` with structured fields."""
    logger.log(level, msg, extra={"fields": fields})
