"""Child processes that die with their parent (Linux ``PR_SET_PDEATHSIG``).

A supervisor names itself in ``SUPERVISOR_PID_ENV`` when it starts a child; the
child calls ``die_with_parent`` first thing, before any heavy import, so a
``kill -9`` of the supervisor leaves no orphan even while a child is starting.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

SUPERVISOR_PID_ENV = "ACCEPTANCE_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1


def supervisor_pid(env: dict[str, str] | None = None) -> int | None:
    """The supervisor's pid this process was started with, or None (not supervised)."""
    value = (env if env is not None else os.environ).get(SUPERVISOR_PID_ENV)
    return int(value) if value and value.isdigit() else None


def die_with_parent(parent_pid: int | None) -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux).

    When the parent is already gone (it died before this call; the process was
    re-parented), SIGTERM is sent at once.
    """
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)
