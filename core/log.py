"""Structured logging to stderr (journald on a Pi).

One line per record, ``key=value`` pairs after the message, so that journald and
a technician's ``grep`` both work. Values come from outside (scale frames, MQTT
properties, codes): control characters are escaped (``\n`` as ``\\n``) in the
message, every value and a traceback, so no input can forge a log line or move
the cursor of a terminal. Never log secrets: callers pass ids and paths, not
keys or tokens.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

_FMT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def escape(text: str) -> str:
    """Control characters (C0, DEL, C1, line/paragraph separators) as visible escapes."""
    return _CONTROL.sub(_escaped, text)


class _KVFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.message = escape(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        base = self.formatMessage(record)
        fields: dict[str, Any] = getattr(record, "fields", {})
        if fields:
            base += " " + " ".join(f"{escape(str(k))}={_quote(v)}" for k, v in fields.items())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # one line too: a traceback's newlines escaped
            base += " exc=" + _quote(record.exc_text)
        if record.stack_info:
            base += " stack=" + _quote(record.stack_info)
        return base


def _quote(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\\') or _CONTROL.search(text):
        return '"' + escape(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'
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
