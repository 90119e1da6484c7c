"""Traceability URL QR codes (浙食链, 承诺达标合格证): configurable, safe patterns."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from app.config import parse_config
from edge.codes.config import CodesSection, TraceSchemeSection
from edge.codes.parse import PlainCode, TraceCode, parse_code

MINIMAL = '[station]\nstation_id = "hz-xh-zjg-01"\nschool_id = "hz-xh-zjg"\n'


@pytest.mark.parametrize(("url", "scheme", "code"), [
    ("https://zsl.zjamr.zj.gov.cn/trace?code=330106202611280012", "zheshilian",
     "330106202611280012"),
    ("http://h5.zsl.zj.gov.cn/#/x?y=1&traceCode=ZSL-000042#top", "zheshilian", "ZSL-000042"),
    ("https://zsl.zj.gov.cn/p/q?a=1&tc=ZSL-000042&b=2", "zheshilian", "ZSL-000042"),
    ("https://www.qsst.moa.gov.cn/cert/view?certNo=HGZ-2026-000123", "hegezheng",
     "HGZ-2026-000123"),
    ("https://hgz.agri.cn/q?id=A1B2C3D4", "hegezheng", "A1B2C3D4"),
    ("https://zj.gov.cn.evil.example/trace?code=330106202611280012", None, None),
    ("https://example.com/trace?code=330106202611280012", None, None),
])
def test_default_schemes(url: str, scheme: str | None, code: str | None) -> None:
    r = parse_code(url)
    if scheme is None:
        assert isinstance(r, PlainCode)
    else:
        assert r.as_dict() == {"kind": "trace", "scheme": scheme, "code": code, "url": url}


def test_configured_scheme_from_toml() -> None:
    cfg = parse_config(MINIMAL + '[[codes.trace]]\nscheme = "zhelenglian"\nlabel = "浙冷链"\n'
                       'pattern = "https://llm\\\\.example\\\\.cn/c/(?P<code>[0-9]{8})"\n')
    (only,) = cfg.codes.trace
    assert only.label == "浙冷链"
    r = parse_code("https://llm.example.cn/c/12345678", cfg.codes)
    assert isinstance(r, TraceCode) and (r.scheme, r.code) == ("zhelenglian", "12345678")
    assert isinstance(parse_code("https://zsl.zj.gov.cn/t?code=330106202611280012", cfg.codes),
                      PlainCode)  # the list replaces the defaults


@pytest.mark.parametrize(("pattern", "message"), [
    (r"https://x/(?P<code>\d+)\1", "not a valid RE2 regex"),
    (r"https://x/(?=a)(?P<code>\d+)", "not a valid RE2 regex"),
    (r"https://x/(?P<code>[0-9]+", "not a valid RE2 regex"),
    (r"https://x/(?P<id>\d+)", "group named 'code'"),
])
def test_unsafe_or_useless_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TraceSchemeSection(scheme="x1", pattern=pattern)


def test_nested_quantifiers_cannot_stall_matching() -> None:
    """(a+)+$ backtracks exponentially in Python's re; config refuses the shape, and were it
    set anyway, RE2 matches it in linear time."""
    nested = r"https://x/(?P<code>(a+)+)"
    with pytest.raises(ValidationError, match="backtracks catastrophically"):
        TraceSchemeSection(scheme="x1", pattern=nested)
    codes = CodesSection(trace=[TraceSchemeSection.model_construct(
        scheme="x1", label="", pattern=nested)])
    t0 = time.perf_counter()
    r = parse_code("https://x/" + "a" * 1900 + "!", codes)
    assert isinstance(r, PlainCode) and time.perf_counter() - t0 < 0.5


def test_example_config_shows_the_default_schemes() -> None:
    from app.config import load_config
    from tests.conftest import ROOT

    cfg = load_config(ROOT / "config" / "station.example.toml")
    assert cfg.codes.trace == CodesSection().trace


@pytest.mark.parametrize("text", ["https://zsl.zj.gov.cn/t?code=\ud800abc", "plain\udfff"])
def test_text_that_is_not_unicode_is_a_parse_error(text: str) -> None:
    from edge.codes.parse import ParseError

    with pytest.raises(ParseError, match="not valid Unicode"):
        parse_code(text)
