"""The application layer: the station and uplink processes, the CLI, doctor and ops.

The only layer that may import every other runtime package.
"""
