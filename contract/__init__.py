"""The interface between a station and the central platform.

Canonical JSON, the hash chain and Ed25519 signatures, the MQTT protocol and
its JSON Schemas, ids. Imports only ``core``; both the station and central
build on it, so neither needs the other.
"""
