"""Opening a serial port with a protocol's line settings (the one pyserial call).

Linux pseudo-terminals have no real character size or parity, and once a pty's
settings were changed the kernel may refuse a later change of CSIZE/PARENB with
EINVAL (seen when ``scale detect`` goes from 8N1 to 7E1 on one simulator).
For a pty only, a refused setting falls back to 8N1 at the same baud, which
carries the same bytes; on a real UART a refusal is an error. Refusals are
raised as ``OSError`` like every other way a port can fail to open, so callers
catch one family of errors.
"""

from __future__ import annotations

import os
import termios
from dataclasses import replace
from typing import Any

from firmware_bridge.protocols.base import LineSettings

_PTY_SLAVE_MAJORS = range(136, 144)  # Unix98 pty slaves (/dev/pts/N)


def is_pty(path: str) -> bool:
    try:
        return os.major(os.stat(path).st_rdev) in _PTY_SLAVE_MAJORS
    except OSError:
        return False


def open_port(path: str, line: LineSettings, timeout: float = 0.05) -> Any:
    """An open ``serial.Serial`` with its input buffer flushed (stale bytes dropped)."""
    import serial

    parity = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}
    try:
        dev = serial.Serial(path, baudrate=line.baud, bytesize=line.bytesize,
                            parity=parity[line.parity], stopbits=line.stopbits,
                            timeout=timeout, write_timeout=0.5)
    except termios.error as exc:
        plain = replace(line, bytesize=8, parity="N", stopbits=1)
        if not is_pty(path) or plain == line:
            raise OSError(f"{path}: cannot set {line.label()}: {exc}") from exc
        return open_port(path, plain, timeout)
    if line.parity != "N":
        check_parity(dev.fd)
    dev.reset_input_buffer()
    return dev


def check_parity(fd: int) -> None:
    """Have the kernel check each byte's parity bit (pyserial leaves INPCK off).

    With INPCK on and IGNPAR and PARMRK off, a byte whose parity is wrong (one
    flipped bit on the line) is read as NUL, which no frame grammar accepts, so a
    corrupted frame is refused instead of read as another weight.
    """
    attrs = termios.tcgetattr(fd)
    attrs[0] = (attrs[0] | termios.INPCK) & ~(termios.IGNPAR | termios.PARMRK | termios.ISTRIP)
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
