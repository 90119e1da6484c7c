"""First boot: how long one kiosk's enrolment takes against a real central over HTTPS.

Starts central's HTTP API (SQLite store, HTTPS and the stations' CA from the test
PKI), then for each of N kiosks: an admin makes a code (``central-admin enrol-code``,
in-process) and the kiosk runs ``acceptance-station enrol`` (in-process: the station
key, an EC P-256 key and CSR, the HTTPS round trip, the files, the config edited).
Prints the figures and ends with one JSON line.

    .venv/bin/python bench/bench_enrol.py [N]
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from app.cli import main as cli  # noqa: E402
from app.enrol_cli import set_keys  # noqa: E402
from central.api import serve_in_thread  # noqa: E402
from central.config import load_central_config  # noqa: E402
from testbed.pki import make_pki  # noqa: E402
from tests.rollout_helpers import central_toml  # noqa: E402


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        make_pki(tmp / "pki", [])
        path, url = central_toml(tmp, f"sqlite:///{tmp / 'central.db'}", Ed25519PrivateKey.generate(),
                                 pki=tmp / "pki", tls=True)
        server = serve_in_thread(load_central_config(path))
        example = (ROOT / "config" / "station.example.toml").read_text(encoding="utf-8")
        codes, enrols = [], []
        try:
            for i in range(n):
                station = f"bench-st-{i:04d}"
                t0 = time.perf_counter()
                out = io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                    assert cli(["central-admin", "enrol-code", "--config", str(path), "--station", station,
                                "--school", "bench-school"]) == 0
                codes.append(time.perf_counter() - t0)
                etc = tmp / station / "etc"
                etc.mkdir(parents=True)
                paths = {("station", "data_dir"): tmp / station / "data",
                         ("station", "key_path"): etc / "station.key"}
                (etc / "station.toml").write_text(set_keys(example, paths))
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    code = cli(["enrol", "--config", str(etc / "station.toml"), "--central", url, "--code",
                                out.getvalue().strip(), "--ca-file", str(tmp / "pki" / "ca.crt")])
                enrols.append(time.perf_counter() - t0)
                assert code == 0
        finally:
            server.shutdown()
    ms = sorted(x * 1000 for x in enrols)
    print(f"enrolment of {n} kiosks over HTTPS: median {statistics.median(ms):.0f} ms, "
          f"max {ms[-1]:.0f} ms (keys, CSR, round trip, files, config); code made in "
          f"{statistics.median(codes) * 1000:.0f} ms (median)")
    print(json.dumps({"bench": "enrol", "n": n, "enrol_ms_median": round(statistics.median(ms), 1),
                      "enrol_ms_max": round(ms[-1], 1),
                      "code_ms_median": round(statistics.median(codes) * 1000, 1)}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
