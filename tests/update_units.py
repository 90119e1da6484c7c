"""Units driven like the deployment tests drive them: a fake ``systemctl`` over real processes.

``systemctl restart`` stops the running kiosk stand-in and starts
``<root>/opt/acceptance-station/current/venv/bin/python`` on ``fake_kiosk`` (this
module run as a script), the way the unit's ExecStart goes through ``current``.
The stand-in imports the release's own program (``app.cli``, ``core``) from that
venv (never the source tree: it runs from / with a clean environment) and
serves the kiosk page and ``/api/state``; a release whose program does not import
never answers. Given the station's data dir, it also writes what the station and the
uplink write once they run (the health check reads them): the scale's
``device_status`` row (connected, unless the release's ``core.SCALE_FAULT`` says its
scale link fails) and the uplink's ``sync_state`` (connected to the broker).
``systemctl is-active`` reports whether that process is alive.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
from pathlib import Path

FAKE_SYSTEMCTL = '''#!{python}
import os, signal, subprocess, sys, time
from pathlib import Path
state = Path({state!r}); state.mkdir(parents=True, exist_ok=True)
pidfile = state / "kiosk.pid"
def alive():
    try:
        pid = int(pidfile.read_text())
        stat = Path(f"/proc/{{pid}}/stat").read_text()
    except (OSError, ValueError):
        return None
    return pid if stat.rsplit(")", 1)[1].split()[0] != "Z" else None
cmd = sys.argv[1]
(state / "calls").open("a").write(" ".join(sys.argv[1:]) + "\\n")
if cmd == "restart":
    pid = alive()
    if pid:
        os.kill(pid, signal.SIGTERM)
        while alive():
            time.sleep(0.01)
    py = Path({opt!r}) / "current" / "venv" / "bin" / "python"
    p = subprocess.Popen([str(py), {script!r}, {port!r}, {state!r}, {data!r}], cwd="/",
                         env={{"PATH": "/usr/bin:/bin"}}, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=open(state / "kiosk.err", "a"))
    pidfile.write_text(str(p.pid))
    sys.exit(0)
if cmd == "is-active":
    ok = alive() is not None
    print("active" if ok else "inactive")
    sys.exit(0 if ok else 3)
sys.exit(1)
'''


def write_fake_systemctl(path: Path, opt: Path, state: Path, port: int, data_dir: Path | None = None) -> Path:
    if data_dir is not None:  # the station's and the uplink's tables, as their migrations make them
        from core import db as dbmod
        from edge import device_status
        from sync import state as sync_state
        conn = dbmod.connect(data_dir / "station.db")
        device_status.ensure_tables(conn)
        sync_state.ensure_tables(conn)
        conn.close()
    path.write_text(FAKE_SYSTEMCTL.format(python=sys.executable, state=str(state), opt=str(opt),
                                          script=str(Path(__file__).resolve()), port=str(port),
                                          data="" if data_dir is None else str(data_dir)))
    path.chmod(0o755)
    return path


def _write_states(data_dir: Path, scale_ok: bool) -> None:
    """The rows the station's housekeeping and the uplink write (same tables and columns)."""
    import sqlite3
    from datetime import UTC, datetime
    now = datetime.now(UTC).isoformat()
    db = sqlite3.connect(data_dir / "station.db", timeout=10)
    with db:  # the tables were made by their owners' migrations (write_fake_systemctl)
        db.execute("INSERT OR REPLACE INTO device_status VALUES ('scale', ?, ?, ?)",
                   ("已连接" if scale_ok else "无数据", int(scale_ok), now))
        db.execute("INSERT OR REPLACE INTO sync_state VALUES ('uplink', ?, ?)",
                   (json.dumps({"state": "ok", "error": None, "at": now.replace("+00:00", "Z")}), now))
    db.close()


def _serve(port: int, state: Path, data_dir: str) -> None:
    import app.cli  # noqa: F401  the release's program must import
    import core

    release_dir = Path(os.path.realpath(sys.prefix)).parent
    page = f"<html>kiosk {release_dir.name} {core.__version__}</html>".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/api/state":
                body = json.dumps({"delivery": {"order_id": "o1"} if (state / "delivery-open").exists()
                                   else None}).encode()
            else:
                body = page
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if data_dir:
        _write_states(Path(data_dir), scale_ok=not getattr(core, "SCALE_FAULT", False))
    server.serve_forever()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
