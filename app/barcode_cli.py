"""``acceptance-station barcode ...``: decode images, parse code text, watch a source.

    barcode decode [--backend zxing|pyzbar] IMAGE...   one JSON line per image, with ms and pass
    barcode parse TEXT                                 the parsed result as JSON, or exit 2
    barcode watch [--seconds N]                        live scans from the configured source

``--config`` selects a station config for the decoder, codes and camera
sections; without it the defaults apply.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from app.cli import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser("barcode", help="decode barcode images and parse code text")
    bsub = p.add_subparsers(dest="barcode_cmd", required=True)

    d = bsub.add_parser("decode", help="decode images; one JSON line per image")
    d.add_argument("--backend", choices=("zxing", "pyzbar"), default=None,
                   help="decoder library (default: decoder.backend from config, zxing; "
                        "zxing runs the ensemble unless decoder.ensemble = false)")
    d.add_argument("--config", type=Path, default=None, help="station config file")
    d.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    d.set_defaults(handler=_decode)

    q = bsub.add_parser("parse", help="parse one code text; JSON on stdout or exit 2")
    q.add_argument("--config", type=Path, default=None, help="station config file")
    q.add_argument("text", metavar="TEXT")
    q.set_defaults(handler=_parse)

    w = bsub.add_parser("watch", help="run the configured camera source and print scans")
    w.add_argument("--config", type=Path, default=None, help="station config file")
    w.add_argument("--source", choices=("camera", "file", "folder", "synthetic"), default=None,
                   help="override camera.source")
    w.add_argument("--seconds", type=float, default=10.0, help="stop after this long")
    w.set_defaults(handler=_watch)


def _sections(path: Path | None) -> tuple[Any, Any, Any]:
    from app.config import ConfigError, load_config
    from edge.codes.config import CodesSection
    from edge.vision.config import CameraSection, DecoderSection

    if path is None:
        return CameraSection(), DecoderSection(), CodesSection()
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    return cfg.camera, cfg.decoder, cfg.codes


def _parsed(text: str, codes: Any) -> dict[str, Any]:
    from edge.codes.parse import ParseError, parse_code

    try:
        return {"parsed": parse_code(text, codes).as_dict()}
    except ParseError as exc:
        return {"parsed": None, "parse_error": str(exc)}


def _decode(args: argparse.Namespace) -> int:
    import cv2

    from edge.vision.frame_decoder import FrameDecoder

    _, dec_cfg, codes = _sections(args.config)
    decoder = FrameDecoder(dec_cfg, args.backend, strategy="fallback")  # still images
    status = 0
    for path in args.images:
        line: dict[str, Any] = {"file": str(path), "results": []}
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            line["error"] = "cannot read image"
            status = 2
        else:
            t0 = time.perf_counter()
            found_all = decoder(image)
            line["ms"] = round((time.perf_counter() - t0) * 1000, 2)
            for found in found_all:
                line["results"].append({"format": found.format, "text": found.text,
                                        "pass": found.via, **_parsed(found.text, codes)})
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return status


def _parse(args: argparse.Namespace) -> int:
    from edge.codes.parse import ParseError, parse_code

    _, _, codes = _sections(args.config)
    try:
        result = parse_code(args.text, codes)
    except ParseError as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(result.as_dict(), ensure_ascii=False))
    return 0


def _watch(args: argparse.Namespace) -> int:
    from edge.vision.camera import Camera
    from edge.vision.frame_decoder import FrameDecoder
    from edge.vision.sources import SourceError, make_source
    from edge.vision.worker import DecodeWorker
    from firmware_bridge.scan import RepeatFilter, ScanEvent

    cam_cfg, dec_cfg, codes = _sections(args.config)
    if args.source:
        cam_cfg = cam_cfg.model_copy(update={"source": args.source})
    try:
        source = make_source(cam_cfg)
    except SourceError as exc:
        raise UsageError(str(exc)) from exc
    repeats = RepeatFilter(codes.repeat_window_s)

    def on_scan(ev: ScanEvent) -> None:
        if repeats.accept(ev.text, ev.at):
            line = {"source": ev.source, "format": ev.format, "text": ev.text}
            print(json.dumps({**line, **_parsed(ev.text, codes)}, ensure_ascii=False), flush=True)

    def on_state(state: str, detail: str) -> None:
        print(json.dumps({"camera": state, "detail": detail}), file=sys.stderr, flush=True)

    worker = DecodeWorker(FrameDecoder(dec_cfg), on_scan)
    pace = 0.0 if cam_cfg.source == "camera" else 1.0 / cam_cfg.fps
    camera = Camera(source, cam_cfg, worker.submit, on_state, frame_interval_s=pace)
    worker.start()
    camera.start()
    try:
        time.sleep(args.seconds)
    finally:
        camera.stop()
        worker.stop()
    print(json.dumps({"frames": camera.frames, "decoded": worker.decoded,
                      "dropped": worker.dropped, "state": camera.state}), file=sys.stderr)
    return 0
