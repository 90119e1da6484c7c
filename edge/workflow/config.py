"""Config of the receiving workflow: what counts as evidence at the door.

Declared next to the workflow; ``StationConfig.receiving`` holds it.
"""

from __future__ import annotations

from pydantic import Field

from core.config import Section


class ReceivingSection(Section):
    max_weight_age_s: float = Field(
        default=1.5, gt=0, le=10,
        description=(
            "A weight is evidence only if its stable reading arrived this recently from a"
            " connected scale; older, confirm is refused (WEIGHT_STALE)."
        ),
    )
    scan_hold_s: float = Field(
        default=10.0, ge=0, le=120,
        description=(
            "A code read while the pan is empty is kept for the next load only this long."
        ),
    )
