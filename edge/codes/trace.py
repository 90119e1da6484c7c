"""Chinese traceability codes: URL QR codes of 浙食链, 承诺达标合格证 and similar schemes.

Such a QR names a batch's trace record on a government platform, not the
item: the result is kept with the decision and never used to find the order
line. Which URLs count is configuration (``[[codes.trace]]``): each scheme is
an RE2 pattern the whole URL must match, with a group ``code``. RE2 matches in
linear time, so no code text can make matching slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import saferegex
from edge.codes.config import TraceSchemeSection

MAX_URL = 2048


@dataclass(frozen=True)
class TraceCode:
    """A traceability code: its scheme, the code the scheme's pattern took out, the URL."""

    scheme: str
    code: str
    url: str
    kind: str = "trace"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "scheme": self.scheme, "code": self.code, "url": self.url}


def match_trace(text: str, schemes: list[TraceSchemeSection]) -> TraceCode | None:
    """The first scheme whose pattern matches all of ``text``, as a TraceCode; else None."""
    if len(text) > MAX_URL or not text.lower().startswith(("http://", "https://")):
        return None
    for s in schemes:
        m = saferegex.compile(s.pattern).fullmatch(text)  # RE2, cached; checked by config
        if m is not None:
            return TraceCode(scheme=s.scheme, code=m.group("code"), url=text)
    return None
