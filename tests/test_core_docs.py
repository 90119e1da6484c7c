"""Docs that must keep up with the code: every command and every reason code."""

from __future__ import annotations

import argparse

from app.cli import build_parser
from edge.matching.reasons import REASONS
from tests.conftest import ROOT


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _commands(sub, f"{prefix} {name}")
                out.extend(nested or [f"{prefix} {name}"])
    return out


def test_every_command_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    missing = [c for c in _commands(build_parser(), "acceptance-station") if f"`{c}" not in text]
    assert not missing, f"undocumented in docs/cli.md: {missing}"


def test_every_reason_code_documented() -> None:
    text = (ROOT / "docs" / "reason-codes.md").read_text()
    for code, (level, zh, _) in REASONS.items():
        assert f"| `{code}` | {level} | {zh} |" in text, code
