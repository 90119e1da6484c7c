"""The acceptance station: workflow, matching rules, journal, vision and web."""

__version__ = "0.1.0"
