"""GS1 Digital Link URIs, parsed by ``biip`` behind the station's own messages.

``https://host/[prefix/]01/<gtin>[/10/<lot>][/21/<serial>][?17=YYMMDD&...]``:
biip reads the primary key and its qualifiers from the path (in the order the
standard gives), percent-decodes each segment after splitting on ``/`` (so
``%2F`` stays inside a value), takes numeric query parameters as data
attributes and ignores the others (e.g. ``linkType``). Before biip sees the
URI, the short names of the older Digital Link syntax (``/gtin/``, ``/lot/``,
``/ser/``, ...) are turned into their AIs. Every value then goes through
:func:`edge.codes.gs1.interpret`, so the typed fields and the messages are the
same as for a scanned element string.
"""

from __future__ import annotations

import urllib.parse

from biip import ParseError as BiipError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI

from edge.codes.errors import ParseError
from edge.codes.gs1 import BIIP_CONFIG, GS1Result, interpret

PRIMARY_KEYS = ("01", "00", "414")
SHORT_NAMES = {"gtin": "01", "sscc": "00", "gln": "414", "lot": "10", "ser": "21", "cpv": "22",
               "exp": "17"}


def _key(segment: str) -> str:
    return SHORT_NAMES.get(segment, segment)


def looks_like_digital_link(text: str) -> bool:
    """An http(s) URL whose path holds a GS1 primary key segment (e.g. ``/01/<gtin>``)."""
    if not text.lower().startswith(("http://", "https://")):
        return False
    try:
        path = urllib.parse.urlsplit(text).path
    except ValueError:
        return False
    segs = [s for s in path.split("/") if s]
    return any(_key(s) in PRIMARY_KEYS for s in segs[:-1])


def _canonical(parts: urllib.parse.SplitResult, segs: list[str], start: int) -> str:
    """The URI with short names replaced by AIs (values left percent-encoded as they were)."""
    path = list(segs)
    for i in range(start, len(path), 2):
        path[i] = _key(path[i])
    query = "&".join(
        (_key(k.split("=", 1)[0]) + ("=" + k.split("=", 1)[1] if "=" in k else ""))
        for k in parts.query.split("&") if k
    )
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + "/".join(path), query, ""))


def _pairs(segs: list[str], start: int, query: str) -> list[tuple[str, str]]:
    """(AI, value) pairs as written, for the station's own diagnosis when biip refuses."""
    rest = [urllib.parse.unquote(s) for s in segs[start:]]
    pairs = [(_key(rest[i]), rest[i + 1]) for i in range(0, len(rest) - 1, 2)]
    if pairs and pairs[0][0] == "01" and pairs[0][1].isdigit() and len(pairs[0][1]) in (8, 12, 13):
        pairs[0] = ("01", pairs[0][1].zfill(14))
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if _key(name).isascii() and _key(name).isdigit():
            pairs.append((_key(name), value))
    return pairs


def parse_digital_link(text: str, ref_year: int) -> GS1Result:
    """A GS1 Digital Link URI as a :class:`GS1Result` with ``form`` ``digital-link``."""
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as exc:
        raise ParseError(f"not a valid URI: {exc}") from None
    segs = [s for s in parts.path.split("/") if s]
    start = next((i for i, s in enumerate(segs) if _key(s) in PRIMARY_KEYS), None)
    if start is None:
        raise ParseError("Digital Link URI has no primary key (01, 00, 414) in its path")
    if (len(segs) - start) % 2:
        raise ParseError("Digital Link path must hold AI/value pairs")
    try:
        uri = GS1DigitalLinkURI.parse(_canonical(parts, segs, start), config=BIIP_CONFIG)
    except BiipError as exc:
        interpret(_pairs(segs, start, parts.query), "digital-link", None, ref_year)  # names the AI
        raise ParseError(f"Digital Link: {exc}") from None
    pairs = [(es.ai.ai, es.value) for es in uri.element_strings]
    return interpret(pairs, "digital-link", None, ref_year)
