"""Small helpers shared by the vision and scanner tests."""

from __future__ import annotations

