"""Reason codes: the table lives in ``contract.reasons`` (central shows the same labels)."""

from __future__ import annotations

from contract.reasons import REASONS, label_zh, level

__all__ = ["REASONS", "label_zh", "level"]
