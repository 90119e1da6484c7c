"""``scale detect|read|simulate`` and the [scale] config section."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main
from app.config import ConfigError, StationConfig, parse_config
from firmware_bridge.config import ScaleSection
from firmware_bridge.detect import detect
from firmware_bridge.protocols import NAMES, get_spec
from firmware_bridge.scenario import constant
from firmware_bridge.simulator import ScaleSimulator

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "app.cli"]


@pytest.mark.parametrize("protocol", NAMES)
def test_detect_finds_each_simulated_protocol(protocol: str, tmp_path: Path) -> None:
    with ScaleSimulator(protocol, constant(2000), link_path=tmp_path / "s", period_s=0.05) as sim:
        result = detect(sim.path, listen_s=0.6, probe_s=0.3)
    assert result.found is not None, [a.reason() for a in result.attempts]
    assert result.found.protocol == protocol
    assert result.found.line == get_spec(protocol).line


def test_detect_tries_the_baud_rates_it_is_given(tmp_path: Path) -> None:
    # A pty carries bytes at any rate, so the first rate tried is the one reported.
    with ScaleSimulator("ohaus", constant(5), link_path=tmp_path / "s") as sim:
        result = detect(sim.path, bauds=[4800, 9600], listen_s=0.3, probe_s=0.3)
    assert result.found is not None and result.found.protocol == "ohaus"
    assert result.found.line.baud == 4800
    assert {a.line.baud for a in result.attempts} == {4800}


def test_detect_explains_why_nothing_matched(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    with ScaleSimulator("ad", constant(0), link_path=tmp_path / "s") as sim:
        sim.set_faults(silent=True)
        code = main(["scale", "detect", "--port", sim.path, "--listen-ms", "200",
                     "--probe-ms", "100"])
    out = capsys.readouterr().out
    assert code == 1
    assert "nothing matched" in out
    assert "ad at 9600 8N1 (listen): no bytes" in out
    assert "toledo8217 at 9600 7E1 (probe): no answer to probe" in out


def test_detect_cli_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ScaleSimulator("xk3190-a12", constant(10), link_path=tmp_path / "s", period_s=0.05) as s:
        assert main(["scale", "detect", "--port", s.path]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["protocol"] == "xk3190-a12" and found["baud"] == 9600


def test_simulate_and_read_as_processes(tmp_path: Path) -> None:
    scenario = tmp_path / "sc.json"
    scenario.write_text(json.dumps({"loop": True, "steps": [{"weight_g": 2480,
                                                            "duration_ms": 60000}]}))
    link = tmp_path / "scale"
    sim = subprocess.Popen([*CLI, "scale", "simulate", "--protocol", "mt-sics", "--scenario",
                            str(scenario), "--link", str(link), "--duration", "20"],
                           stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert sim.stdout is not None
        assert sim.stdout.readline().strip() == str(link)
        out = subprocess.run([*CLI, "scale", "read", "--port", str(link), "--protocol",
                              "mt-sics", "--count", "3", "--timeout", "5"],
                             capture_output=True, text=True, timeout=30, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        lines = [json.loads(x) for x in out.stdout.splitlines()]
        assert len(lines) == 3
        assert lines[0] == {"weight_g": 2480, "stable": True, "net": None, "status": "ok",
                            "raw": "S S      2.480 kg"}
    finally:
        sim.terminate()
        sim.wait(timeout=5)
    assert sim.returncode == 0
    assert not link.exists()  # the stable link goes away with the simulator


def test_read_times_out_with_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scale", "read", "--port", str(tmp_path / "none"), "--protocol", "ad",
                 "--count", "1", "--timeout", "0.3"])
    assert code == 1
    assert "state disconnected" in capsys.readouterr().err


def test_bad_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": []}')
    assert main(["scale", "simulate", "--protocol", "ad", "--scenario", str(bad)]) == 2
    assert "bad scenario" in capsys.readouterr().err
    assert main(["scale", "read", "--port", "x", "--protocol", "ad", "--count", "0"]) == 2
    assert main(["scale", "read", "--port", "x", "--protocol", "ad", "--unit", "stone"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["scale", "read", "--port", "x", "--protocol", "toledo"])
    assert exc.value.code == 2


def _leaves(model: type, prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        ann = field.annotation
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            out += _leaves(ann, f"{prefix}{name}.")
        else:
            out.append(name)
    return out


def test_example_config_shows_every_scale_option() -> None:
    text = (ROOT / "config" / "station.example.toml").read_text()
    for key in _leaves(ScaleSection):
        assert re.search(rf"^#? ?{key} =", text, re.M), key
    assert "[scale]" in text and "[scale.stability]" in text
    for field in [*ScaleSection.model_fields.values(),
                  *ScaleSection.model_fields["stability"].annotation.model_fields.values()]:  # type: ignore[union-attr]
        assert field.description


def test_scale_config_loads_and_builds_link_settings() -> None:
    cfg = parse_config((ROOT / "config" / "station.example.toml").read_text())
    assert isinstance(cfg, StationConfig)
    settings = cfg.scale.link_settings()
    assert settings.protocol == cfg.scale.protocol and settings.poll_interval_s == 0.2
    minimal = parse_config('[station]\nstation_id = "abc-01"\nschool_id = "abc"\n')
    assert minimal.scale.simulate is False
    with pytest.raises(ConfigError, match=r"scale\.protocol"):
        parse_config('[station]\nstation_id = "abc-01"\nschool_id = "abc"\n'
                     '[scale]\nprotocol = "toledo"\n')
    with pytest.raises(ConfigError, match=r"scale\.bogus: unknown key"):
        parse_config('[station]\nstation_id = "abc-01"\nschool_id = "abc"\n[scale]\nbogus = 1\n')


def test_help_does_not_import_pyserial() -> None:
    out = subprocess.run([*CLI, "scale", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "simulate" in out.stdout
    probe = ("import sys, app.cli; app.cli.build_parser(); "
             "print(sorted(m for m in sys.modules if m == 'serial'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_start_scale_with_the_simulator(tmp_path: Path) -> None:
    from firmware_bridge.runtime import start_scale

    device = start_scale(ScaleSection(simulate=True, protocol="ohaus", poll_interval_ms=50),
                         sim_dir=tmp_path)
    try:
        assert device.simulator is not None and device.link.port == device.simulator.path
        r = device.link.readings.get(timeout=3)
        assert r.status == "ok" and isinstance(r.weight_g, int)
    finally:
        device.stop()


def test_start_scale_real_port_missing_is_a_visible_state(tmp_path: Path) -> None:
    from firmware_bridge.runtime import start_scale

    device = start_scale(ScaleSection(port=str(tmp_path / "none")))
    try:
        assert device.simulator is None
        time.sleep(0.3)
        assert device.link.state.value == "disconnected"
    finally:
        device.stop()


def test_console_port_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scale", "detect", "--port", "/dev/ttyAMA10"]) == 2
    assert "console port" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="console port"):
        parse_config('[station]\nstation_id = "abc-01"\nschool_id = "abc"\n'
                     '[scale]\nport = "/dev/ttyAMA10"\n')


def test_detect_reports_a_port_that_will_not_open(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scale", "detect", "--port", str(tmp_path / "none")]) == 1
    out = capsys.readouterr().out
    assert "cannot open" in out and "nothing matched" in out
