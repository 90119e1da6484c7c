"""The JSON Schemas of the contract, shipped with the package.

One validator per schema, built once; ``errors`` returns readable messages with
the JSON path of each problem so a refused document says exactly what is wrong.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

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


def errors(name: str, doc: Any, limit: int = 5) -> list[str]:
    """Up to ``limit`` messages ``<json path>: <problem>``, empty when valid."""
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
