"""Uplink to the central platform and the reference central platform."""
