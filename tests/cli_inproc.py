"""Run ``acceptance-station`` commands in this process, as a technician's shell would see them.

Spawning a Python process per command costs most of a CLI test's time; where the
process boundary is not what is under test, ``run_cli`` calls ``app.cli.main``
with stdout, stderr and stdin redirected and returns what ``subprocess.run``
would (exit code, text). Logging set up by the command is undone afterwards.
"""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import sys
from unittest import mock


class _Text(io.StringIO):
    """A text stream with a ``buffer`` for commands that write bytes (as a real stdout has)."""

    def __init__(self, initial: str = "") -> None:
        super().__init__(initial)
        self._bytes = io.BytesIO(initial.encode("utf-8"))

    @property
    def buffer(self) -> io.BytesIO:
        return self._bytes

    def text(self) -> str:
        return self.getvalue() + self._bytes.getvalue().decode("utf-8", "replace")


def run_cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    from app.cli import main

    out, err, stdin = _Text(), _Text(), _Text(input or "")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                mock.patch.object(sys, "stdin", stdin):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse errors and --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
    return subprocess.CompletedProcess(["acceptance-station", *args], code, out.text(), err.text())
