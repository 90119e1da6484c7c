"""What a serial instrument's reading means to the workflow (pure): the input it gives, if any.

The station runs each optional instrument (probe thermometer, rapid-test
analyser) on its own link thread and hands every reading here: a reading fills
the item being inspected (the current placement) only while a delivery is open
and the placement is not yet decided, and only when it changes what the
placement holds (a probe repeats its value every half second). The value's
source is recorded: ``probe`` / ``instrument`` against ``typed`` on the kiosk.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from edge.matching.types import RapidTest
from edge.workflow.model import SetRapidTest, SetTemperature, State


def _open_item(st: State) -> bool:
    return st.delivery is not None and not st.placement.decided


def temperature_input(st: State, r: Any) -> SetTemperature | None:
    """A probe reading (``celsius``) as the item's temperature."""
    value = Decimal(r.celsius)
    if not _open_item(st) or st.placement.temperature_c == value:
        return None
    return SetTemperature(value, source="probe")


def rapid_test_input(st: State, r: Any) -> SetRapidTest | None:
    """An instrument's result (``firmware_bridge.rapid_test.RapidResult``) as the item's rapid test."""
    if not _open_item(st):
        return None
    sample = f"{r.sample_no} {r.sample}".strip()[:64]
    test = RapidTest(None if r.inhibition_pct is None else Decimal(r.inhibition_pct), r.passed,
                     sample, "", "instrument")
    return None if st.placement.rapid_test == test else SetRapidTest(test)


def rapid_test_text(r: Any) -> str:
    """The kiosk's device line for the newest result."""
    verdict = "" if r.passed is None else ("合格" if r.passed else "不合格")
    rate = "" if r.inhibition_pct is None else f"{r.inhibition_pct}%"
    return " ".join(x for x in (r.sample, rate, verdict) if x)
