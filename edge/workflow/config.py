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
    pin_attempts: int = Field(
        default=5, ge=1, le=20,
        description="Wrong PINs in a row that lock an inspector's id (INSPECTOR_LOCKED).",
    )
    lockout_s: float = Field(
        default=300.0, ge=1, le=86400, description="How long a locked id cannot sign in by PIN."
    )
    idle_signout_s: float = Field(
        default=600.0, ge=30, le=86400,
        description="With no staff input for this long, everyone is signed out (idle).",
    )
    scan_hold_s: float = Field(
        default=10.0, ge=0, le=120,
        description=(
            "A code read while the pan is empty is kept for the next load only this long."
        ),
    )
