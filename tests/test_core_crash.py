"""Crash safety: SIGKILL a writer at random moments; nothing that returned is lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge import db as dbmod
from edge.journal import Journal
from edge.verify import verify_db

WRITER = """
import sys
from pathlib import Path
from cryptography.hazmat.primitives import serialization
from edge.journal import Journal
key = serialization.load_pem_private_key(Path(sys.argv[2]).read_bytes(), None)
j = Journal(sys.argv[1], key, "crash-station-01")
print("ready", flush=True)
i = 0
while True:
    with j.transaction() as tx:
        ev = tx.append("alert.raised", {"code": "CRASH", "n": i, "pad": "x" * (i % 300)})
        if i % 3 == 0:
            ev = tx.append("alert.raised", {"code": "CRASH2", "n": i})
    print(ev["seq"], flush=True)  # printed only after the commit returned
    i += 1
"""


def test_sigkill_never_loses_a_returned_append(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    key_path = tmp_path / "k.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    db_path = tmp_path / "crash.db"
    rng = random.Random(1234)
    for _round in range(50):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), str(key_path)],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate()
        returned = [int(x) for x in out.split()]
        db = dbmod.connect(db_path)
        res = verify_db(db, key.public_key())
        assert res.first_problem is None, f"round {_round}: {res.first_problem}"
        assert res.last_seq == res.count
        if returned:
            assert max(returned) <= res.last_seq, f"round {_round}: lost a committed append"
        db.close()
    j = Journal(db_path, key, "crash-station-01")
    assert j.append("alert.raised", {"code": "after"})["seq"] == res.last_seq + 1
