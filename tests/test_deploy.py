"""Deployment: units verify with systemd-analyze; install.sh is idempotent in a scratch root."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS = sorted((ROOT / "systemd").glob("*.service"))
TIMERS = sorted((ROOT / "systemd").glob("*.timer"))
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


@pytest.mark.parametrize("timer", TIMERS, ids=[t.name for t in TIMERS])
def test_timer_verifies_with_its_service(timer: Path, tmp_path: Path) -> None:
    service = timer.with_suffix(".service")
    for unit in (timer, service):
        (tmp_path / unit.name).write_text(unit.read_text().replace(
            "/opt/acceptance-station/venv/bin/acceptance-station", ACCEPTANCE_BIN))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / timer.name)],
                       capture_output=True, text=True, timeout=60)
    problems = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert r.returncode == 0 and not problems, problems


EXPOSURE = {"acceptance-station.service": 2.5, "acceptance-sync.service": 2.5,
            "acceptance-hall.service": 4.0, "acceptance-central.service": 2.5,
            # root by necessity (builds venvs under /opt, restarts units): /usr, /etc read-only
            "acceptance-update.service": 6.0}


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_exposure(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze security --offline=yes`: station, sync and central <= 2.5, hall <= 4."""
    import re

    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", r.stdout + r.stderr)
    assert m is not None, r.stdout + r.stderr
    assert float(m.group(1)) <= EXPOSURE[unit.name], (unit.name, m.group(1))


def test_hall_unit_shows_the_hall_only_server() -> None:
    """The hall screen opens the read-only hall server ([web] hall_port), not the kiosk port."""
    from app.config import WebSection

    hall = (ROOT / "systemd" / "acceptance-hall.service").read_text()
    web = WebSection()
    assert f"http://127.0.0.1:{web.hall_port}/hall" in hall
    assert f":{web.port}/" not in hall
    assert "IPAddressDeny=any" in hall and "IPAddressAllow=localhost" in hall


def test_units_have_the_required_settings() -> None:
    station = (ROOT / "systemd" / "acceptance-station.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartSec=",
                 "SupplementaryGroups=dialout video input", "StateDirectory=acceptance-station",
                 "ConfigurationDirectory=acceptance-station", "ProtectSystem=strict",
                 "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "DevicePolicy=closed"):
        assert line in station, line
    assert "--kiosk" in (ROOT / "systemd" / "acceptance-hall.service").read_text()
    central = (ROOT / "systemd" / "acceptance-central.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "KillMode=control-group",
                 "StateDirectory=acceptance-central", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "PrivateDevices=yes", "NoNewPrivileges=yes",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        assert line in central, line


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


def _station_venv_is_the_lock(python: Path) -> None:
    """The kiosk venv holds station.lock (no psycopg: central's) and every module imports,
    from bytecode compiled at install (the unit may not write __pycache__: ProtectSystem)."""
    compiled = ("import importlib.util as u, pathlib\n"
                "for n in ('app.station', 'edge.web.app', 'pydantic.main', 'numpy.linalg'):\n"
                "    print(n, pathlib.Path(u.cache_from_source(u.find_spec(n).origin)).is_file())\n")
    r = subprocess.run([str(python), "-B", "-c", compiled], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0 and "False" not in r.stdout, r.stdout + r.stderr
    r = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    r = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"],
                       capture_output=True, text=True, check=True)
    installed = {ln.split("==")[0].lower() for ln in r.stdout.split()}
    assert "psycopg" not in installed and "psycopg-binary" not in installed
    code = ("import importlib, pathlib, sys\n"
            "names = []\n"
            "for top in ('core', 'contract', 'firmware_bridge', 'edge', 'sync', 'central',\n"
            "            'app', 'testbed'):\n"
            "    base = pathlib.Path(importlib.import_module(top).__file__).parent.parent\n"
            "    for f in sorted((base / top).rglob('*.py')):\n"
            "        names.append('.'.join(f.relative_to(base).with_suffix('').parts)"
            ".removesuffix('.__init__'))\n"
            "for n in names:\n"
            "    importlib.import_module(n)\n"
            "assert 'central.store' in sys.modules\n"
            "print(len(names))\n")
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0 and int(r.stdout) > 100, r.stderr


def test_install_twice_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = _install(root)
    assert first.returncode == 0, first.stderr
    etc = root / "etc" / "acceptance-station"
    key = etc / "station.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert (root / "opt/acceptance-station/venv/bin/acceptance-station").exists()
    _station_venv_is_the_lock(root / "opt/acceptance-station/venv/bin/python")
    assert (root / "etc/systemd/system/multi-user.target.wants/acceptance-station.service").is_symlink()
    assert (root / "etc/udev/rules.d/99-acceptance-scale.rules").exists()
    assert (root / "etc/systemd/system/acceptance-update.timer").exists()
    assert not (root / "etc/systemd/system/timers.target.wants").exists()  # no release key: no polls
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


def test_sync_process_notifies_systemd(tmp_path: Path,
                                       notify_socket: tuple[socket.socket, dict[str, str]]) -> None:
    """The uplink unit is Type=notify too: READY=1, then pings while its loop runs."""
    from tests.conftest import CLI, assert_ready_then_pings

    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[station]\nstation_id = "notify-station-01"\nschool_id = "test-school"\n'
                   f'data_dir = "{tmp_path}/data"\nkey_path = "{tmp_path}/station.key"\n'
                   '[uplink]\norders_fetch = false\nbackoff_min_s = 0.1\nbackoff_max_s = 0.5\n'
                   '[uplink.broker]\nhost = "127.0.0.1"\nport = 9\n')
    assert_ready_then_pings([*CLI, "sync", "--config", str(cfg)], notify_socket)
