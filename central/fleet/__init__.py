"""Central's fleet view and remote diagnosis (docs/fleet.md)."""
