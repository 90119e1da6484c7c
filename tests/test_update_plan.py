"""The pure parts of an update: versions, window, refusals, health verdict, steps."""

from __future__ import annotations

import sys
from datetime import time
from pathlib import Path

import pytest

from app.update_plan import (
    Preflight,
    advance,
    health_verdict,
    in_window,
    parse_window,
    refusal,
    releases_to_prune,
    should_roll_back,
    version_key,
)
from app.updater import wait_healthy


def test_version_order() -> None:
    assert version_key("1.10.0") > version_key("1.9.2")
    assert version_key("1.4.0") > version_key("1.4.0rc1")
    assert version_key("1.4") == version_key("1.4.0")
    with pytest.raises(ValueError):
        version_key("latest")


def test_window_plain_and_past_midnight() -> None:
    w = parse_window("02:00-05:00")
    assert in_window(time(2, 0), w) and in_window(time(4, 59), w)
    assert not in_window(time(5, 0), w) and not in_window(time(1, 59), w)
    night = parse_window("23:00-04:00")
    assert in_window(time(23, 30), night) and in_window(time(3, 0), night)
    assert not in_window(time(12, 0), night)
    for bad in ("2:00-5:00", "02:00-02:00", "25:00-01:00", "02:00"):
        with pytest.raises(ValueError):
            parse_window(bad)


def _pf(**kw: object) -> Preflight:
    base: dict[str, object] = {"current": "1.0.0", "target": "1.1.0", "in_window": True,
                               "delivery_open": False}
    return Preflight(**{**base, **kw})  # type: ignore[arg-type]


def test_refusals() -> None:
    assert refusal(_pf()) is None
    assert refusal(_pf(current=None)) is None
    assert refusal(_pf(delivery_open=True)) == "a delivery is open"
    assert "cannot read the workflow state" in (refusal(_pf(delivery_open=None)) or "")
    assert refusal(_pf(in_window=False)) == "outside the maintenance window"
    assert "already current" in (refusal(_pf(target="1.0.0")) or "")
    assert "no downgrade" in (refusal(_pf(target="0.9.0")) or "")
    # force: a technician on site skips the window and delivery checks, never the version check
    assert refusal(_pf(in_window=False, delivery_open=None, force=True)) is None
    assert "no downgrade" in (refusal(_pf(target="0.9.0", force=True)) or "")


def test_health_verdict_and_rollback_decision() -> None:
    ok = health_verdict({"units": None, "journal": None, "kiosk": None})
    bad = health_verdict({"units": None, "kiosk": "no answer"})
    assert ok.healthy and not bad.healthy and bad.failures == ("kiosk: no answer",)
    assert not health_verdict({}).healthy  # no check ran: not healthy
    assert should_roll_back(ok, 999, 10) is False
    assert should_roll_back(bad, 5, 10) is None
    assert should_roll_back(bad, 10, 10) is True


def test_steps_follow_the_state_machine() -> None:
    s = "idle"
    for step in ("started", "installed", "switched", "rolled_back", "started", "refused"):
        s = advance(s, step)
    assert s == "refused"
    with pytest.raises(ValueError, match="may not follow"):
        advance("idle", "switched")
    with pytest.raises(ValueError, match="may not follow"):
        advance("installed", "applied")


def test_wait_healthy_until_pass_or_deadline() -> None:
    now = [0.0]
    answers = iter(["starting", "starting", None])
    verdict, elapsed = wait_healthy({"kiosk": lambda: next(answers)}, 10, 1,
                                    clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert verdict.healthy and elapsed == 2
    now[0] = 0.0

    def crash() -> str | None:
        raise RuntimeError("boom")
    verdict, elapsed = wait_healthy({"kiosk": crash}, 3, 1, clock=lambda: now[0],
                                    sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert not verdict.healthy and elapsed == 3 and verdict.failures == ("kiosk: RuntimeError: boom",)


def test_prune_keeps_the_new_and_the_previous_release() -> None:
    assert releases_to_prune(["1.0.0", "1.1.0", "1.2.0", ".incoming-7"], {"1.2.0", "1.1.0"}) == ["1.0.0"]


def test_a_command_that_hangs_or_is_missing_is_a_failure() -> None:
    from app.updater import run_cmd

    assert run_cmd(["sleep", "5"], timeout_s=0.2).returncode == 124
    assert run_cmd(["/nonexistent/systemctl", "restart"]).returncode == 127


def test_switch_is_one_rename_and_adopts_install_sh_venv(tmp_path: Path) -> None:
    from app.updater import Layout, switch

    layout = Layout(tmp_path)
    (tmp_path / "venv" / "bin").mkdir(parents=True)  # what install.sh built before any update
    (tmp_path / "releases" / "1.0.0" / "venv").mkdir(parents=True)
    (tmp_path / "releases" / "1.1.0" / "venv").mkdir(parents=True)
    switch(layout, "1.0.0")
    assert layout.current_version() == "1.0.0" and (tmp_path / "venv.pre-update" / "bin").is_dir()
    assert (tmp_path / "venv").resolve() == tmp_path / "releases" / "1.0.0" / "venv"
    switch(layout, "1.1.0")
    assert (tmp_path / "venv").resolve() == tmp_path / "releases" / "1.1.0" / "venv"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "releases", "venv", "venv.pre-update"]


def test_venv_gets_pip_only_when_pip_installs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release venv is made without pip when the running release's uv installs into it, and
    with pip when it has no uv (pip is then run from the new venv)."""
    from app import updater

    running = tmp_path / "running" / "bin"
    running.mkdir(parents=True)
    monkeypatch.setattr(sys, "executable", str(running / "python"))
    new = tmp_path / "releases" / "2.0.0" / "venv"
    assert updater.installer(str(new / "bin" / "python"))[:3] == [str(new / "bin" / "python"), "-m", "pip"]
    assert updater.venv_command("/usr/bin/python3", new) == ["/usr/bin/python3", "-m", "venv", str(new)]
    uv = running / "uv"
    uv.write_text("#!/bin/sh\n")
    assert updater.running_uv() is None  # not executable: not an installer
    uv.chmod(0o755)
    assert updater.installer(str(new / "bin" / "python"))[:3] == [str(uv), "pip", "install"]
    assert updater.venv_command("/usr/bin/python3", new) == ["/usr/bin/python3", "-m", "venv",
                                                             "--without-pip", str(new)]
