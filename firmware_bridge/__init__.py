"""Everything that talks to device firmware: scale protocols, serial links, simulators."""

# edge.config composes this package's config sections and they subclass its Section:
# importing it first keeps that import order the same whichever module is loaded first.
import edge.config  # noqa: F401
