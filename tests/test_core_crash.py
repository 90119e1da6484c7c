"""Crash safety: SIGKILL a writer at random moments; nothing that returned is lost.

Each round's writer is a separate process killed with SIGKILL. It is forked from
a fork server that has already imported the journal, so a round costs the kill
and the check, not a Python start-up: 50 rounds stay cheap without being fewer.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core import db as dbmod
from edge.journal import Journal
from edge.verify import verify_db

SEED = int(os.environ.get("CRASH_SEED", "1234"))


def _writer(db_path: str, key_path: str, out: Connection) -> None:
    """Append forever; report each seq on ``out`` only after its commit returned.

    A short message is one write(2) on the pipe, which a kill cannot tear.
    """
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    j = Journal(db_path, key, "crash-station-01")
    out.send_bytes(b"ready")
    i = 0
    while True:
        with j.transaction() as tx:
            ev = tx.append("alert.raised", {"code": "CRASH", "n": i, "pad": "x" * (i % 300)})
            if i % 3 == 0:
                ev = tx.append("alert.raised", {"code": "CRASH2", "n": i})
        out.send_bytes(str(ev["seq"]).encode())
        i += 1


class _VerifiedOnce:
    """The public key, remembering the (signature, message) pairs it has verified.

    Each round verifies the whole journal again (a kill could in principle damage any page),
    so the same events' signatures were verified round after round: 18,000 Ed25519 checks,
    most of the test's CPU. A pair verifies or not the same way every time, and any change
    to a stored event changes its hash (recomputed every round) and so its pair: only
    unchanged events skip the repeated check.
    """

    def __init__(self, key: Ed25519PublicKey) -> None:
        self.key = key
        self.good: set[tuple[bytes, bytes]] = set()

    def verify(self, signature: bytes, data: bytes) -> None:
        if (signature, data) not in self.good:
            self.key.verify(signature, data)  # raises InvalidSignature
            self.good.add((signature, data))


def _drain(conn: Connection) -> list[int]:
    seqs = []
    while True:
        try:
            seqs.append(int(conn.recv_bytes()))
        except EOFError:
            return seqs


def test_sigkill_never_loses_a_returned_append(tmp_path: Path) -> None:
    print(f"CRASH_SEED={SEED}")  # shown on failure; rerun with the same seed
    key = Ed25519PrivateKey.generate()
    key_path = tmp_path / "k.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    db_path = tmp_path / "crash.db"
    rng = random.Random(SEED)
    public = cast(Ed25519PublicKey, _VerifiedOnce(key.public_key()))
    ctx = multiprocessing.get_context("forkserver")
    # "__main__": where pytest runs as a script (-n 0), each writer would otherwise run that
    # script again to set up its __main__, importing pytest: 0.2 s a round. (xdist's workers
    # have no main script, and then this is a no-op.)
    ctx.set_forkserver_preload(["__main__", "edge.journal", "tests.test_core_crash"])
    for _round in range(50):
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_writer, args=(str(db_path), str(key_path), w))
        p.start()
        w.close()
        try:
            assert r.poll(60) and r.recv_bytes() == b"ready", f"round {_round}: writer did not start"
            time.sleep(rng.uniform(0.0, 0.15))
            p.kill()  # SIGKILL
            p.join(30)
            returned = _drain(r)
        finally:
            r.close()
        db = dbmod.connect(db_path)
        res = verify_db(db, public)
        assert res.first_problem is None, f"round {_round}: {res.first_problem}"
        assert res.last_seq == res.count
        if returned:
            assert max(returned) <= res.last_seq, f"round {_round}: lost a committed append"
        db.close()
    j = Journal(db_path, key, "crash-station-01")
    assert j.append("alert.raised", {"code": "after"})["seq"] == res.last_seq + 1
