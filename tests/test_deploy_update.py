"""install.sh and updates: the release key set at install, the releases left to the updater."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.config import load_config
from contract.keys import public_hex
from tests.conftest import ROOT
from tests.test_deploy import ACCEPTANCE_BIN


def _install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "systemd" / "install.sh"), "--root", str(root),
                           "--skip-packages", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ACCEPTANCE_BIN": ACCEPTANCE_BIN})


def test_release_key_set_at_install_and_releases_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "root"
    pub = public_hex(Ed25519PrivateKey.generate())
    r = _install(root, "--skip-venv", "--release-key", pub)
    assert r.returncode == 0, r.stderr
    cfg = load_config(root / "etc/acceptance-station/station.toml")
    assert cfg.update.release_public_key == pub
    timer = root / "etc/systemd/system/timers.target.wants/acceptance-update.timer"
    assert timer.is_symlink()  # the kiosk polls central for its target release
    # Once updates own the program (current -> releases/<v>), a re-run builds no venv.
    opt = root / "opt/acceptance-station"
    (opt / "releases/1.2.0/venv").mkdir(parents=True)
    (opt / "current").symlink_to("releases/1.2.0")
    r = _install(root)
    assert r.returncode == 0, r.stderr
    assert "program managed by updates" in r.stderr and not (opt / "venv").exists()
    assert load_config(root / "etc/acceptance-station/station.toml").update.release_public_key == pub


def test_bad_release_key_refused_before_anything(tmp_path: Path) -> None:
    r = _install(tmp_path / "root", "--skip-venv", "--release-key", "not-hex")
    assert r.returncode == 2 and "--release-key" in r.stderr
    assert not (tmp_path / "root").exists()
