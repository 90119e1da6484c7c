"""The camera, decoder, scanners and codes sections: defaults, example file, bad values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from app.config import ConfigError, StationConfig, parse_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "station.example.toml"
MINIMAL = '[station]\nstation_id = "hz-xh-zjg-01"\nschool_id = "hz-xh-zjg"\n'


def leaf_keys(model: type[BaseModel]) -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        ann: Any = field.annotation
        args = getattr(ann, "__args__", ())
        inner = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        keys |= leaf_keys(inner[0]) if inner else {name}
    return keys


@pytest.mark.parametrize("section", ["camera", "decoder", "scanners", "codes"])
def test_example_shows_every_option(section: str) -> None:
    text = EXAMPLE.read_text()
    model = StationConfig.model_fields[section].annotation
    assert isinstance(model, type)
    for key in leaf_keys(model):
        assert re.search(rf"^#? ?{key} =", text, re.M), f"{section}: {key} missing from example"
    for name, field in model.model_fields.items():
        desc = field.description
        assert desc, f"{section}.{name} has no description"


def test_defaults_without_sections() -> None:
    cfg = parse_config(MINIMAL)
    assert cfg.decoder.backend == "zxing" and cfg.camera.source == "camera"
    assert cfg.scanners.devices == [] and cfg.codes.repeat_window_s == 3.0


def test_example_loads_with_scanner_uncommented() -> None:
    text = EXAMPLE.read_text().replace("# [[scanners.devices]]", "[[scanners.devices]]")
    for key in ("kind", "device", "baudrate", "grab"):
        text = re.sub(rf"^# ({key} =)", r"\1", text, flags=re.M)
    cfg = parse_config(text)
    assert cfg.scanners.devices[0].kind == "hid"


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ('[decoder]\nbackend = "quagga"\n', "decoder.backend"),
        ("[decoder]\nroi = [0.5, 0.5, 0.9, 0.1]\n", "decoder.roi"),
        ('[camera]\nfourcc = "mjpg"\n', "camera.fourcc"),
        ('[codes.weight_label]\nlayout = "FFIIIIIVVVVV"\n', "codes.weight_label.layout"),
        ('[[scanners.devices]]\nkind = "bluetooth"\ndevice = "x"\n', "scanners.devices.0.kind"),
        ("[camera]\nexposure = 3\n", "camera.exposure: unknown key"),
    ],
)
def test_bad_values_are_named(extra: str, where: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(where)):
        parse_config(MINIMAL + extra)
