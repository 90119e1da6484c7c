"""Signed release bundles: build, sign, verify; every kind of damage is refused."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import release
from tests.cli_inproc import run_cli
from tests.release_helpers import lock_for, make_wheel, signed_bundle


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    dep = make_wheel(tmp_path / "wh", "tinydep", "1.0", {"tinydep/__init__.py": "X = 1\n"})
    prog = make_wheel(tmp_path / "prog", "acceptance-station", "0.2.0", {"core/__init__.py": "V = 2\n"})
    return prog, lock_for(tmp_path / "station.lock", [dep]), [dep]


def test_good_bundle_verifies_and_extracts(tmp_path: Path, key: Ed25519PrivateKey,
                                           parts: tuple[Path, Path, list[Path]]) -> None:
    prog, lock, wh = parts
    bundle = signed_bundle(tmp_path / "out", "0.2.0", prog, lock, key, wh)
    out = tmp_path / "x"
    m = release.verify(bundle, key.public_key(), extract_to=out)
    assert m.version == "0.2.0" and m.wheelhouse
    assert sorted(m.files) == ["requirements/station.lock", f"wheelhouse/{wh[0].name}",
                               f"wheels/{prog.name}"]
    assert (out / m.wheel).read_bytes() == prog.read_bytes()


def test_bad_signature_refused(tmp_path: Path, key: Ed25519PrivateKey,
                               parts: tuple[Path, Path, list[Path]]) -> None:
    bundle = signed_bundle(tmp_path / "out", "0.2.0", parts[0], parts[1], key)
    other = Ed25519PrivateKey.generate()
    with pytest.raises(release.ReleaseError, match="bad signature"):
        release.verify(bundle, other.public_key())
    release.sign(bundle, other)  # signed, but by a key the station does not trust
    with pytest.raises(release.ReleaseError, match="bad signature"):
        release.verify(bundle, key.public_key())
    release.sig_path(bundle).unlink()
    with pytest.raises(release.ReleaseError, match="cannot read the signature"):
        release.verify(bundle, key.public_key())


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_bundle_refused(tmp_path: Path, key: Ed25519PrivateKey,
                                  parts: tuple[Path, Path, list[Path]], keep: float) -> None:
    prog, lock, wh = parts
    bundle = signed_bundle(tmp_path / "out", "0.2.0", prog, lock, key, wh)
    data = bundle.read_bytes()
    bundle.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(release.ReleaseError, match=r"truncated|corrupt|not a readable"):
        release.verify(bundle, key.public_key(), extract_to=tmp_path / "x")


def _rewrite(bundle: Path, change: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> None:
    """Rewrite the tar keeping the signed manifest: change (or drop) members, add others."""
    members = []
    with tarfile.open(bundle) as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m)
            assert f is not None
            members.append((m.name, f.read()))
    with tarfile.open(bundle, "w") as tar:
        for name, data in [*members, *(add or {}).items()]:
            new = change.get(name, data)
            if new is None:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(new)
            tar.addfile(info, io.BytesIO(new))


def test_changed_missing_or_extra_file_refused(tmp_path: Path, key: Ed25519PrivateKey,
                                               parts: tuple[Path, Path, list[Path]]) -> None:
    prog, lock, _ = parts
    bundle = signed_bundle(tmp_path / "out", "0.2.0", prog, lock, key)
    _rewrite(bundle, {"requirements/station.lock": b"evil==6.6.6\n"})
    with pytest.raises(release.ReleaseError, match="bad signature"):
        release.verify(bundle, key.public_key())
    # The signature covers the whole file; below it, each file is checked against the signed
    # manifest too (a bundle signed after it was damaged, or changed between the two reads).
    release.sign(bundle, key)
    with pytest.raises(release.ReleaseError, match=r"requirements/station.lock: sha256 .* differs"):
        release.verify(bundle, key.public_key())
    bundle = signed_bundle(tmp_path / "out2", "0.2.0", prog, lock, key)
    _rewrite(bundle, {f"wheels/{prog.name}": None})
    release.sign(bundle, key)
    with pytest.raises(release.ReleaseError, match="truncated bundle: missing wheels/"):
        release.verify(bundle, key.public_key())
    bundle = signed_bundle(tmp_path / "out3", "0.2.0", prog, lock, key)
    _rewrite(bundle, {}, add={"../../etc/cron.d/x": b"* * * * * root sh\n"})
    release.sign(bundle, key)
    with pytest.raises(release.ReleaseError, match="not in the manifest"):
        release.verify(bundle, key.public_key(), extract_to=tmp_path / "x")
    assert not (tmp_path / "etc").exists()


def test_build_refuses_unlocked_wheel_and_bad_version(tmp_path: Path,
                                                      parts: tuple[Path, Path, list[Path]]) -> None:
    prog, lock, _ = parts
    stray = make_wheel(tmp_path / "stray", "stray", "1.0", {"stray.py": ""})
    with pytest.raises(release.ReleaseError, match="not in the lock"):
        release.build("0.2.0", prog, lock, tmp_path / "out", [stray])
    with pytest.raises(release.ReleaseError, match="not a release version"):
        release.build("../x", prog, lock, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_manifest_rejects_unsafe_paths() -> None:
    doc = {"format": 1, "version": "1.0", "wheel": "wheels/a.whl", "lock": "requirements/station.lock",
           "files": {"wheels/a.whl": {"sha256": "0" * 64, "size": 1},
                     "requirements/station.lock": {"sha256": "0" * 64, "size": 1},
                     "wheels/../../x": {"sha256": "0" * 64, "size": 1}}}
    with pytest.raises(release.ReleaseError, match="unsafe path"):
        release.parse_manifest(json.dumps(doc).encode())


def test_cli_build_sign_verify(tmp_path: Path, parts: tuple[Path, Path, list[Path]]) -> None:
    """The commands a release manager types (in this process: the commands are under test,
    not the interpreter's start)."""
    prog, lock, wh = parts
    key_path = tmp_path / "release.key"
    r = run_cli("keys", "init", "--key", str(key_path))
    assert r.returncode == 0, r.stderr
    pub = r.stdout.split()[-1]
    r = run_cli("release", "build", "--version", "0.2.0", "--out", str(tmp_path / "out"),
                "--wheel", str(prog), "--lock", str(lock), "--wheelhouse", str(wh[0].parent))
    assert r.returncode == 0, r.stderr
    bundle = Path(r.stdout.strip())
    r = run_cli("release", "sign", str(bundle), "--key", str(key_path))
    assert r.returncode == 0, r.stderr
    r = run_cli("release", "verify", str(bundle), "--public-key", pub)
    assert r.returncode == 0 and "OK" in r.stdout and "offline install" in r.stdout, r.stdout + r.stderr
    bundle.write_bytes(bundle.read_bytes()[:-3000])
    r = run_cli("release", "verify", str(bundle), "--public-key", pub)
    assert r.returncode == 1 and "FAIL" in r.stdout, r.stdout
