"""The station's disk: free space, the journal's reserve, and what the kiosk says about it.

The last ``[station] journal_reserve_mb`` of the data disk belong to the
journal: clip recording stops at ``[video] min_free_mb`` (which must be larger)
and housekeeping skips its own writes below the reserve, so decisions can still
be saved when something else filled the disk. When even the journal cannot
write, the station says so (``磁盘已满，未保存``) and refuses decisions; it
starts in that state rather than exiting, and recovers by itself when space
returns.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MB = 1_000_000
FULL_TEXT = "磁盘已满，未保存"
FAULT_CODE = "DISK_FULL"  # the kiosk's fault while the journal cannot write (not an alert code)


class DiskFull(Exception):
    """The journal cannot be opened or written because the data disk is full."""


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def disk_state(free: int, reserve_mb: int, journal_full: bool) -> tuple[bool, str]:
    """(ok, kiosk text) of the data disk. Pure."""
    if journal_full:
        return False, f"{FULL_TEXT}（剩余 {free // MB} MB）"
    if free < reserve_mb * MB:
        return False, f"磁盘将满：剩余 {free // MB} MB，仅保留给验收记录"
    return True, f"剩余 {free / 1e9:.1f} GB"


def fault_message(cause: str) -> str:
    """What the kiosk shows while the journal cannot write."""
    return f"{FULL_TEXT}：无法验收，请联系管理员释放磁盘空间（{cause}）"
