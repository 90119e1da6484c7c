"""Decoders on images rendered here: the distorted set, ROI, downscale, format restriction."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from edge.codes.gs1 import GS1_SYMBOLOGY_IDS
from edge.vision.config import DecoderSection
from edge.vision.decode import BACKENDS, ZxingDecoder, make_decoder, preprocess
from edge.vision.frame_decoder import FrameDecoder
from edge.vision.render import Distortion, compose, distorted_set, read_rate, symbol

FORMATS = ["ean-13", "code-128", "qr-code", "data-matrix"]


def _strip(text: str) -> str:
    return text[3:] if text[:3] in GS1_SYMBOLOGY_IDS else text


@pytest.fixture(scope="module")
def samples() -> list:  # type: ignore[type-arg]
    return list(distorted_set())


def test_distorted_set_success_rates(samples: list) -> None:  # type: ignore[type-arg]
    kinds = collections.Counter(s.format for s in samples)
    assert set(kinds) == set(FORMATS) and len(samples) >= 150
    rates = {}
    for backend in BACKENDS:
        dec = FrameDecoder(DecoderSection(formats=FORMATS), backend, strategy="fallback")
        rates[backend], per = read_rate(dec, samples)
        shown = ", ".join(f"{f} {r:.1%}" for f, r in per.items())
        print(f"\n{backend}: {rates[backend]:.1%} of {len(samples)} ({shown})")
    for binarizer in ("local-average", "fixed-threshold"):
        single, _ = read_rate(ZxingDecoder(FORMATS, binarizer).decode, samples)
        print(f"zxing, {binarizer} alone: {single:.1%}")
    default = DecoderSection().backend
    assert rates[default] >= 0.95, rates
    assert rates[default] >= max(rates.values())


def test_alternate_strategy_uses_each_binarizer_in_turn(samples: list) -> None:  # type: ignore[type-arg]
    local = ZxingDecoder(FORMATS, "local-average")
    fixed = ZxingDecoder(FORMATS, "fixed-threshold")
    s = next(s for s in samples
             if not local.decode(s.image) and any(_strip(d.text) == s.expected
                                                  for d in fixed.decode(s.image)))
    plain = DecoderSection(formats=FORMATS, ensemble=False)  # the binarizers without the ensemble
    dec = FrameDecoder(plain, "zxing", strategy="alternate")
    assert dec(s.image) == []  # frame 1: local average misses it
    assert [_strip(d.text) for d in dec(s.image)] == [s.expected]  # frame 2: fixed threshold
    assert [_strip(d.text) for d in FrameDecoder(plain, "zxing", strategy="fallback")(s.image)] \
        == [s.expected]


@pytest.mark.parametrize("backend", BACKENDS)
def test_gs1_128_keeps_fnc1_information(backend: str) -> None:
    img = np.pad(symbol("(01)09521234543213(10)B2411(17)261231", "code-128", 3), 20,
                 constant_values=255)
    (found,) = make_decoder(backend, ["code-128"]).decode(img)
    assert found.format == "code-128"
    assert _strip(found.text) == "010952123454321310B2411\x1d17261231"
    if backend == "zxing":
        assert found.text.startswith("]C1")


def test_datamatrix_symbology_id() -> None:
    img = np.pad(symbol("(01)09521234543213(3103)001250", "data-matrix", 4), 10,
                 constant_values=255)
    (found,) = make_decoder("zxing", ["data-matrix"]).decode(img)
    assert found.text == "]d2" + "0109521234543213" + "3103001250"


def _two_codes() -> np.ndarray:
    rng = np.random.default_rng(3)
    canvas = np.full((480, 1280), 200, np.uint8)
    left = compose(np.pad(symbol("6901234567892", "ean-13", 3), 10, constant_values=255),
                   (480, 640), Distortion(), rng)
    right = compose(np.pad(symbol("STAFF-A1234", "qr-code", 5), 10, constant_values=255),
                    (480, 640), Distortion(), rng)
    canvas[:, :640], canvas[:, 640:] = left, right
    return canvas


@pytest.mark.parametrize("backend", BACKENDS)
def test_roi_and_format_restriction(backend: str) -> None:
    frame = cv2.cvtColor(_two_codes(), cv2.COLOR_GRAY2BGR)
    full = FrameDecoder(DecoderSection(formats=["ean-13", "qr-code"]), backend, "fallback")
    assert {d.text for d in full(frame)} == {"6901234567892", "STAFF-A1234"}
    right = FrameDecoder(DecoderSection(formats=["ean-13", "qr-code"], roi=[0.5, 0, 0.5, 1]),
                         backend)
    assert [d.text for d in right(frame)] == ["STAFF-A1234"]
    only_ean = FrameDecoder(DecoderSection(formats=["ean-13"]), backend)
    assert [d.text for d in only_ean(frame)] == ["6901234567892"]


def test_preprocess_downscales_and_greys() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    out = preprocess(frame, None, 640)
    assert out.shape == (360, 640) and out.dtype == np.uint8
    out2 = preprocess(frame, [0.25, 0.5, 0.5, 0.5], 1280)
    assert out2.shape == (360, 640)
    with pytest.raises(ValueError):
        DecoderSection(roi=[0.8, 0, 0.5, 1])
    with pytest.raises(ValueError):
        DecoderSection(formats=["aztec"])


def test_cli_decode_both_backends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "two.png"
    cv2.imwrite(str(img), _two_codes())
    bad = tmp_path / "not-an-image.png"
    bad.write_text("nope")
    for backend in BACKENDS:
        assert main(["barcode", "decode", "--backend", backend, str(img)]) == 0
        (line,) = capsys.readouterr().out.splitlines()
        out = json.loads(line)
        assert out["file"] == str(img) and out["ms"] > 0
        by_text = {r["text"]: r for r in out["results"]}
        assert {r["pass"] for r in out["results"]} == {"zxing" if backend == "zxing" else "pyzbar"}
        assert by_text["6901234567892"]["format"] == "ean-13"
        assert by_text["6901234567892"]["parsed"]["kind"] == "plain"
        assert by_text["STAFF-A1234"]["parsed"] == {
            "kind": "badge", "code": "STAFF-A1234", "staff_id": "A1234"}
    assert main(["barcode", "decode", str(bad), str(img)]) == 2
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["error"] and lines[0]["results"] == [] and len(lines[1]["results"]) == 2


def test_cli_decode_gs1_datamatrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "dm.png"
    sym = symbol("(01)09521234543213(17)261200(10)B2411(3103)001250", "data-matrix", 6)
    cv2.imwrite(str(img), np.pad(sym, 30, constant_values=255))
    assert main(["barcode", "decode", str(img)]) == 0
    (res,) = json.loads(capsys.readouterr().out)["results"]
    assert res["format"] == "data-matrix"
    p = res["parsed"]
    assert p["kind"] == "gs1" and p["ais"]["3103"] == "001250" and p["net_weight_g"] == 1250
    assert p["expiry"] == "2026-12-31" and p["gtin"] == "09521234543213"


def test_cli_parse(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["barcode", "parse", "(01)09521234543213(3103)001250"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ais"] == {"01": "09521234543213", "3103": "001250"}
    assert out["net_weight_g"] == 1250
    assert main(["barcode", "parse", "(01)09521234543214"]) == 2
    assert "bad check digit" in capsys.readouterr().err


def test_cli_watch_synthetic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--log-level", "WARNING", "barcode", "watch", "--source", "synthetic",
                 "--seconds", "1.5"]) == 0
    captured = capsys.readouterr()
    scans = [json.loads(x) for x in captured.out.splitlines()]
    assert len(scans) == 1  # the code stays in view: the repeat window counts it once
    assert scans[0]["format"] == "data-matrix" and scans[0]["parsed"]["net_weight_g"] == 1250
    assert '"camera": "running"' in captured.err
