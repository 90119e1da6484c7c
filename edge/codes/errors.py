"""The one error type of code parsing.

Everything read from a camera, a scanner or a keyboard is outside input: the
parsers raise only :class:`ParseError` (a property test checks this), so a
caller's long-running loop needs exactly one ``except``.
"""

from __future__ import annotations


class ParseError(ValueError):
    """What was read is not a valid code of the kind it looks like; the message says why."""
