"""Docs that must keep up with the code: commands, reason codes, and the central contract."""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.cli import build_parser
from contract.chain import canonical_json, event_hash
from contract.keys import public_hex
from edge.matching.reasons import REASONS
from tests.conftest import ROOT


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _commands(sub, f"{prefix} {name}")
                out.extend(nested or [f"{prefix} {name}"])
    return out


def test_every_command_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    missing = [c for c in _commands(build_parser(), "acceptance-station") if f"`{c}" not in text]
    assert not missing, f"undocumented in docs/cli.md: {missing}"


def test_every_reason_code_documented() -> None:
    text = (ROOT / "docs" / "reason-codes.md").read_text()
    for code, (level, zh, _) in REASONS.items():
        assert f"| `{code}` | {level} | {zh} |" in text, code


CENTRAL_DOC = ROOT / "docs" / "contract.md"
# Background notes outside the repository: the repo must stand on its own. (Spelled so that
# this file does not match itself.)
OUTSIDE = re.compile(r"\b(?:CON" r"TRACT|DOM" r"AIN|DES" r"IGN)\.md\b|(?:\.\./|/work/)shared\b")


def _repo_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name and (ROOT / name).is_file()]


def test_no_reference_outside_the_repository() -> None:
    files = _repo_files()
    assert len(files) > 100 and CENTRAL_DOC in files
    hits = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        hits += [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
                 for m in OUTSIDE.finditer(text)]
    assert not hits, "point to docs/contract.md or the right doc instead:\n" + "\n".join(hits)


def test_every_schema_is_in_the_contract() -> None:
    text = CENTRAL_DOC.read_text()
    schemas = sorted((ROOT / "contract" / "schemas").glob("*.json"))
    assert len(schemas) >= 8
    for path in schemas:
        schema_id = json.loads(path.read_text())["$id"]
        assert f"`{path.name}`" in text and f"`{schema_id}`" in text, path.name


def _source_texts() -> list[str]:
    return [p.read_text() for p in _repo_files()
            if p.suffix == ".py" and p.relative_to(ROOT).parts[0] not in ("tests", "bench")]


def test_every_event_type_and_alert_code_is_in_the_contract() -> None:
    """Types appended anywhere in the code, and alert codes, appear in docs/contract.md."""
    text = CENTRAL_DOC.read_text()
    src = "\n".join(_source_texts())
    types = set(re.findall(r"\.append\(\s*\"([a-z]+\.[a-z_.]+)\"", src))
    types |= set(re.findall(r"\(\(\"([a-z]+\.[a-z_]+)\", body\),\)", src))  # the workflow's
    types |= {"line.accepted", "line.rejected"}  # edge/records.py picks one of the two
    assert {"station.started", "orders.loaded", "delivery.opened", "clip.finalized"} <= types
    codes = set(re.findall(r"\"code\": \"([A-Z_]+)\"", src))
    assert {"ORDERS_REFUSED", "CLIP_MISSING"} <= codes
    missing = sorted(t for t in types | codes if f"`{t}`" not in text)
    assert not missing, f"not in docs/contract.md: {missing}"


def test_contract_test_vector_holds() -> None:
    """The worked example in docs/contract.md §3: canonical form, hash and signature."""
    text = CENTRAL_DOC.read_text()
    seed = re.search(r"seed is\s+`([0-9a-f]{64})`", text)
    pub = re.search(r"\(public key `([0-9a-f]{64})`\)", text)
    block = re.search(r"```json test-vector-canonical\n(.+?)\n```", text, re.S)
    digest = re.search(r"has `hash` `([0-9a-f]{64})`", text)
    sig = re.search(r"and `sig`\s+`([A-Za-z0-9+/]{86}==)`", text)
    assert seed and pub and block and digest and sig
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed[1]))
    assert public_hex(key) == pub[1]
    canonical = block[1].encode("utf-8")
    event = json.loads(canonical)
    assert canonical_json(event) == canonical, "the block is not in canonical form"
    assert event_hash(event) == digest[1]
    assert base64.b64encode(key.sign(bytes.fromhex(digest[1]))).decode() == sig[1]


def test_every_source_path_the_docs_name_exists() -> None:
    """Docs that name a module or file by path stay true when code moves."""
    pattern = re.compile(r"\b(?:edge|sync|firmware_bridge|core|contract|central|app|testbed)"
                         r"/[A-Za-z0-9_/.-]+\.(?:py|json|html|js|css)\b")
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for m in pattern.finditer(doc.read_text(encoding="utf-8")):
            if not (ROOT / m.group()).exists():
                missing.append(f"{doc.name}: {m.group()}")
    assert missing == []
