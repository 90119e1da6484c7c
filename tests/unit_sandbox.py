"""Run a process under a systemd unit's sandbox directives, without systemd.

The build machine has no systemd as PID 1, so ``systemd-run -p ...`` is not
available. This applies, in the child before ``exec``, the directives most
likely to break a Python process, the way systemd does:

* ``CapabilityBoundingSet=`` (empty): every capability dropped from the bounding
  set, so even uid 0 has none after exec;
* ``NoNewPrivileges=yes``;
* ``MemoryDenyWriteExecute=yes``: ``prctl(PR_SET_MDWE)``, the kernel's own W^X
  (systemd uses a seccomp filter on mmap/mprotect for the same effect);
* ``SystemCallFilter=`` / ``SystemCallErrorNumber=`` / ``SystemCallArchitectures=native``:
  a libseccomp filter built from the unit's lines in order, with the groups
  expanded by this machine's ``systemd-analyze syscall-filter`` (systemd 252, as on
  Debian 12 and Raspberry Pi OS);
* ``RestrictAddressFamilies=``: ``socket()`` allowed only for the listed families
  (others fail with EAFNOSUPPORT, as under systemd).

Mount namespaces (``ProtectSystem``, ``PrivateTmp``...), device ACLs and
``IPAddressDeny`` are not applied here; docs/security.md says what they restrict.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
FAMILIES = {"AF_UNIX": socket.AF_UNIX, "AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6,
            "AF_NETLINK": 16, "AF_PACKET": 17}


def directives(unit: Path) -> list[tuple[str, str]]:
    """The [Service] assignments of a unit file, in order."""
    out, section = [], ""
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.append((k.strip(), v.strip()))
    return out


@functools.cache
def group(name: str) -> frozenset[str]:
    """The syscalls of ``@name`` (nested groups expanded) per systemd-analyze."""
    text = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                          text=True, check=True).stdout
    calls: set[str] = set()
    for line in text.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        calls |= group(item) if item.startswith("@") else {item}
    return frozenset(calls)


def _names(words: str) -> set[str]:
    out: set[str] = set()
    for w in words.split():
        out |= group(w) if w.startswith("@") else {w}
    return out


def allowed_syscalls(unit: Path) -> tuple[set[str] | None, set[str]]:
    """(allow list or None, deny list) from the unit's SystemCallFilter= lines, in order."""
    allow: set[str] | None = None
    deny: set[str] = set()
    for k, v in directives(unit):
        if k != "SystemCallFilter" or not v:
            continue
        invert = v.startswith("~")
        names = _names(v.lstrip("~"))
        if allow is None and not deny:  # the first line decides the kind of list
            if invert:
                deny = names
            else:
                allow = names
        elif allow is not None:
            allow = allow - names if invert else allow | names
        else:
            deny = deny | names if invert else deny - names
    return allow, deny


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _seccomp(allow: set[str] | None, deny: set[str], families: list[int] | None,
             err: int) -> Callable[[], None]:
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp"), use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    errno_action = 0x00050000 | (err & 0xFFFF)
    nr = {name: lib.seccomp_syscall_resolve_name(name.encode()) for name in
          (allow or set()) | deny | {"socket"}}

    def load() -> None:
        ctx = lib.seccomp_init(SCMP_ACT_ALLOW if allow is None else errno_action)
        rules: list[tuple[int, int, list[_ArgCmp]]] = []
        if allow is None:
            rules += [(errno_action, nr[n], []) for n in deny if nr[n] >= 0 and n != "socket"]
        else:
            rules += [(SCMP_ACT_ALLOW, nr[n], []) for n in allow
                      if nr[n] >= 0 and n != "socket"]
        socket_ok = "socket" not in deny if allow is None else "socket" in allow
        if families is not None and socket_ok:
            for f in range(64):  # one rule per family value: libseccomp has no "not in"
                if f not in families:
                    rules.append((0x00050000 | errno.EAFNOSUPPORT, nr["socket"],
                                  [_ArgCmp(0, SCMP_CMP_EQ, f, 0)]))
                elif allow is not None:
                    rules.append((SCMP_ACT_ALLOW, nr["socket"], [_ArgCmp(0, SCMP_CMP_EQ, f, 0)]))
        elif socket_ok and allow is not None:
            rules.append((SCMP_ACT_ALLOW, nr["socket"], []))
        elif not socket_ok and allow is None:
            rules.append((errno_action, nr["socket"], []))
        for action, number, args in rules:
            arr = (_ArgCmp * len(args))(*args) if args else None
            if lib.seccomp_rule_add_array(ctx, action, number, len(args), arr) < 0:
                raise OSError(f"seccomp rule for syscall {number} refused")
        if lib.seccomp_load(ctx) < 0:
            raise OSError(ctypes.get_errno(), "seccomp_load failed")

    return load


def preexec(unit: Path) -> Callable[[], None]:
    """A ``preexec_fn`` applying the unit's sandbox (see the module docstring)."""
    d = dict(directives(unit))
    allow, deny = allowed_syscalls(unit)
    err = getattr(errno, d.get("SystemCallErrorNumber", "EPERM"))
    fams = d.get("RestrictAddressFamilies")
    families = None if fams is None else [FAMILIES[f] for f in fams.split()]
    load = _seccomp(allow, deny, families, err)
    libc = ctypes.CDLL(None, use_errno=True)
    mdwe = d.get("MemoryDenyWriteExecute") == "yes"
    no_caps = "CapabilityBoundingSet" in d and d["CapabilityBoundingSet"] == ""

    def apply() -> None:
        if no_caps:
            for cap in range(64):
                libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "no_new_privs")
        if mdwe and libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_MDWE")
        load()

    return apply
