"""The indicator protocols, by the names the CLI and config use."""

from __future__ import annotations

from firmware_bridge.protocols import ad, hx711, mt_sics, ohaus, toledo8217, xk3190_a9, xk3190_a12
from firmware_bridge.protocols.base import ProtocolSpec, Reading

REGISTRY: dict[str, ProtocolSpec] = {
    spec.name: spec
    for spec in (
        toledo8217.SPEC,
        mt_sics.SPEC,
        ad.SPEC,
        xk3190_a9.SPEC,
        xk3190_a12.SPEC,
        ohaus.SPEC,
        hx711.SPEC,
    )
}
NAMES: tuple[str, ...] = tuple(REGISTRY)


def get_spec(name: str) -> ProtocolSpec:
    """The spec for ``name``; ValueError naming the known protocols otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(NAMES)}") from None


__all__ = ["NAMES", "REGISTRY", "ProtocolSpec", "Reading", "get_spec"]
