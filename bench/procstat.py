"""One reader of /proc/<pid>/status for the benchmarks' memory figures (VmRSS, VmHWM)."""

from __future__ import annotations

from pathlib import Path


def status_mb(field: str, pid: int | str = "self", missing: float = 0.0) -> float:
    """The ``field`` of /proc/``pid``/status (a size in kB there) in MB; ``missing`` without it
    (a process that exited between two reads, a kernel thread)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return missing
