"""Scenarios for the scale simulator: what is on the pan, when (pure).

A scenario is JSON: ``{"loop": true, "steps": [{"weight_g": 0, "duration_ms":
1000}, {"weight_g": 2500, "duration_ms": 4000, "oscillation_g": 60,
"settle_ms": 800}]}``. During a step the gross weight is its ``weight_g``; for
the first ``settle_ms`` it swings around it with a linearly decaying amplitude
(alternating sign each frame), as a load placed on a platform does. The
simulated indicator is unstable while the swing lasts.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weight_g: int = Field(description="Gross weight on the pan during this step (grams).")
    duration_ms: int = Field(gt=0, description="How long the step lasts.")
    oscillation_g: int = Field(default=0, ge=0, description="Initial swing amplitude (grams).")
    settle_ms: int = Field(default=0, ge=0, description="How long the swing takes to die out.")
    overload: bool = Field(default=False, description="The indicator reports overload.")


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    loop: bool = Field(default=True, description="Start again after the last step.")
    steps: list[Step] = Field(min_length=1, description="The steps, in order.")

    def at(self, t_ms: int, frame_no: int) -> tuple[int, bool, bool]:
        """(gross grams, settled, overload) at ``t_ms`` after the start."""
        total = sum(s.duration_ms for s in self.steps)
        if self.loop:
            t_ms %= total
        elif t_ms >= total:
            last = self.steps[-1]
            return last.weight_g, True, last.overload
        for step in self.steps:
            if t_ms < step.duration_ms:
                return _swing(step, t_ms, frame_no)
            t_ms -= step.duration_ms
        last = self.steps[-1]
        return last.weight_g, True, last.overload


def _swing(step: Step, t_ms: int, frame_no: int) -> tuple[int, bool, bool]:
    if step.oscillation_g == 0 or t_ms >= step.settle_ms:
        return step.weight_g, True, step.overload
    amp = step.oscillation_g * (step.settle_ms - t_ms) // step.settle_ms
    sign = 1 if frame_no % 2 == 0 else -1
    return step.weight_g + sign * amp, False, step.overload


DEFAULT = Scenario(
    loop=True,
    steps=[
        Step(weight_g=0, duration_ms=2000),
        Step(weight_g=2480, duration_ms=5000, oscillation_g=80, settle_ms=1200),
        Step(weight_g=0, duration_ms=2000),
        Step(weight_g=15060, duration_ms=5000, oscillation_g=150, settle_ms=1500),
    ],
)


def constant(weight_g: int) -> Scenario:
    """A scenario holding one settled weight forever (tests)."""
    return Scenario(loop=True, steps=[Step(weight_g=weight_g, duration_ms=60_000)])


def placement(weight_g: int, oscillation_g: int = 0, settle_ms: int = 0) -> Scenario:
    """A load placed now: it swings for ``settle_ms``, then holds (demo, tests)."""
    return Scenario(loop=False, steps=[Step(weight_g=weight_g, duration_ms=max(settle_ms, 1) + 1,
                                            oscillation_g=oscillation_g, settle_ms=settle_ms)])


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; ValueError with the reason otherwise."""
    try:
        return Scenario.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"{path}: bad scenario: {exc}") from exc
