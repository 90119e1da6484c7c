"""Deployment: units verify with systemd-analyze; install.sh is idempotent in a scratch root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS = sorted((ROOT / "systemd").glob("*.service"))
ACCEPTANCE_BIN = str(Path(shutil.which("acceptance-station") or
                          Path(os.sys.executable).with_name("acceptance-station")))


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_verifies(unit: Path, tmp_path: Path) -> None:
    """systemd-analyze checks every directive; executables are mapped to ones present here."""
    text = unit.read_text().replace("/opt/acceptance-station/venv/bin/acceptance-station",
                                    ACCEPTANCE_BIN).replace("/usr/bin/cage", "/bin/true")
    copy = tmp_path / unit.name
    copy.write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                       capture_output=True, text=True, timeout=60)
    problems = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert r.returncode == 0 and not problems, problems


def test_units_have_the_required_settings() -> None:
    station = (ROOT / "systemd" / "acceptance-station.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartSec=",
                 "SupplementaryGroups=dialout video input", "StateDirectory=acceptance-station",
                 "ConfigurationDirectory=acceptance-station", "ProtectSystem=strict",
                 "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "DevicePolicy=closed"):
        assert line in station, line
    assert "--kiosk" in (ROOT / "systemd" / "acceptance-hall.service").read_text()


def _manifest(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.lstat()
            target = os.readlink(p) if p.is_symlink() else None
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, target)
    return out


def _install(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "systemd" / "install.sh"), "--root", str(root),
                           "--skip-packages"], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})


def test_install_twice_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = _install(root)
    assert first.returncode == 0, first.stderr
    etc = root / "etc" / "acceptance-station"
    key = etc / "station.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert (root / "opt/acceptance-station/venv/bin/acceptance-station").exists()
    assert (root / "etc/systemd/system/multi-user.target.wants/acceptance-station.service").is_symlink()
    assert (root / "etc/udev/rules.d/99-acceptance-scale.rules").exists()
    before = _manifest(root)
    second = _install(root)
    assert second.returncode == 0, second.stderr
    assert _manifest(root) == before
    assert "wrote" not in second.stderr and "generated" not in second.stderr

    cfg = etc / "station.toml"
    cfg.write_text(cfg.read_text().replace("hz-xh-zjg-01", "hz-xh-zjg-77"))
    key_bytes = key.read_bytes()
    third = _install(root)
    assert third.returncode == 0, third.stderr
    assert "hz-xh-zjg-77" in cfg.read_text() and key.read_bytes() == key_bytes
    r = subprocess.run([str(root / "opt/acceptance-station/venv/bin/acceptance-station"),
                        "config", "check", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
