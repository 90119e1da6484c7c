"""The JSON Schemas of the contract, shipped with the package.

One validator per schema, built once; ``errors`` returns readable messages with
the JSON path of each problem so a refused document says exactly what is wrong.
Valid documents of the wire schemas take a fast path: the schema compiled to Python by
fastjsonschema (~4 µs per journal event against ~300 µs for jsonschema, which
matters at central's ingest rate); only a document the fast check refuses is
walked by jsonschema to produce the readable messages.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator


@cache
def load(name: str) -> dict[str, Any]:
    """The schema document ``name`` (file ``<name>.json`` in this folder)."""
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def validator(name: str) -> Draft202012Validator:
    schema = load(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@cache
def _fast(name: str) -> Any:
    """The compiled fast check, or None for schemas with ``$ref`` (fastjsonschema would try
    to resolve their non-URL ``$id`` over the network)."""
    schema = load(name)
    if "$ref" in json.dumps(schema):
        return None
    return fastjsonschema.compile(schema)


def errors(name: str, doc: Any, limit: int = 5) -> list[str]:
    """Up to ``limit`` messages ``<json path>: <problem>``, empty when valid."""
    fast = _fast(name)
    if fast is not None:
        try:
            fast(doc)
            return []
        except fastjsonschema.JsonSchemaException:
            pass  # fall through to jsonschema for the full, readable list
    out = []
    for err in sorted(validator(name).iter_errors(doc), key=lambda e: list(e.absolute_path)):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        # A schema may name what an anyOf/oneOf means, instead of echoing the instance.
        msg = err.schema.get(f"x-{err.validator}-message") if isinstance(err.schema, dict) else None
        text = msg or err.message
        out.append(f"{path}: {text if len(text) <= 200 else text[:200] + '…'}")
        if len(out) >= limit:
            break
    return out
