"""Reading a POSTed form: URL-encoded fields or multipart with one file, size-limited.

Parsed with the standard library (``urllib.parse``, ``email``), so the web app needs no
multipart package. The length is checked from ``Content-Length`` before a byte is read (411
without one, 413 above the limit); the whole body must arrive within ``[http] body_timeout_s``
(408); anything malformed is 400.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qs

from fastapi import HTTPException, Request

FIELDS_MAX = 64 * 1024
FIELD_MAX = 8000


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


async def read_form(request: Request, max_bytes: int = FIELDS_MAX) -> Form:
    """The request's form; only multipart forms may exceed ``FIELDS_MAX`` (up to ``max_bytes``)."""
    ctype = request.headers.get("content-type", "")
    multipart = ctype.startswith("multipart/form-data")
    if not multipart and not ctype.startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "a form is application/x-www-form-urlencoded or multipart/form-data")
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(411, "Content-Length is required")
    if int(length) > (max_bytes + FIELDS_MAX if multipart else FIELDS_MAX):
        raise HTTPException(413, "the form is too large")
    timeout = float(getattr(request.app.state.cfg.http, "body_timeout_s", 30.0))
    try:
        body = await asyncio.wait_for(request.body(), timeout)
    except TimeoutError as exc:  # a stalled upload does not hold its connection for ever
        raise HTTPException(408, "the form's body did not arrive in time") from exc
    if len(body) != int(length):
        raise HTTPException(400, "the body is not as long as its Content-Length")
    return _multipart(ctype, body) if multipart else _urlencoded(body)


def _urlencoded(body: bytes) -> Form:
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                         max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "a malformed form") from exc
    return Form({k: v[0][:FIELD_MAX] for k, v in pairs.items()})


def _multipart(ctype: str, body: bytes) -> Form:
    msg = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1", "replace") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    if not msg.is_multipart():
        raise HTTPException(400, "a malformed multipart form")
    form = Form()
    for n, part in enumerate(msg.iter_parts()):
        if n >= 50:
            raise HTTPException(400, "too many form fields")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            form.files[name] = Upload(filename[:200], part.get_content_type(), data)
        else:
            try:
                form.fields[name] = data.decode("utf-8")[:FIELD_MAX]
            except UnicodeDecodeError as exc:
                raise HTTPException(400, "a form field is not UTF-8") from exc
    return form
