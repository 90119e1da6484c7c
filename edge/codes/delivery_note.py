"""Supplier delivery notes: ``ADN1:`` + compact JSON, validated against its JSON Schema.

The schema (``contract/schemas/delivery-note.v1.json``) is the contract with
suppliers; on top of it this module checks what a schema cannot say: dates are
real calendar dates, expiry is not before production, and line ids are unique.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from core import jsonsafe
from edge.codes.errors import ParseError

PREFIX = "ADN1:"
MAX_BYTES = 4096  # a QR code holds at most ~2.9 kB; anything bigger is not a note


@dataclass(frozen=True)
class DeliveryNote:
    """A validated delivery note; ``note`` is the JSON object exactly as sent."""

    note: dict[str, Any]
    kind: str = "delivery-note"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "note": self.note}


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    text = resources.files("contract").joinpath("schemas/delivery-note.v1.json").read_text("utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def parse_delivery_note(text: str) -> DeliveryNote:
    """Parse ``ADN1:{...}``; any failure is a ParseError naming the field."""
    if not text.startswith(PREFIX):
        raise ParseError("a delivery note starts with 'ADN1:'")
    body = text[len(PREFIX) :]
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ParseError(f"delivery note is larger than {MAX_BYTES} bytes")
    try:  # strict: no NaN, no huge integers, no repeated keys, no lone surrogates
        note = jsonsafe.loads(body, parse_float=str, max_depth=8)
    except jsonsafe.JSONRefused as exc:
        raise ParseError(f"delivery note is not valid JSON: {exc}") from None
    errors = sorted(_validator().iter_errors(note), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        raise ParseError(f"delivery note {where}: {err.message}")
    seen: set[str] = set()
    for i, line in enumerate(note["lines"]):
        if line["line_id"] in seen:
            raise ParseError(f"delivery note lines/{i}: line_id {line['line_id']!r} repeated")
        seen.add(line["line_id"])
        dates: dict[str, date] = {}
        for key in ("production_date", "expiry_date"):
            if key in line:
                try:
                    dates[key] = date.fromisoformat(line[key])
                except ValueError:
                    raise ParseError(
                        f"delivery note lines/{i}/{key}: {line[key]!r} is not a real date"
                    ) from None
        if len(dates) == 2 and dates["expiry_date"] < dates["production_date"]:
            raise ParseError(f"delivery note lines/{i}: expiry_date before production_date")
    return DeliveryNote(note=note)
