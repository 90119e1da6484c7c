"""The page tests' Chromium is launched as tests/browser.py means it to be.

Chromium keeps only the last ``--disable-features`` it is given, and Playwright puts its own
first: ours must contain Playwright's whole list (else upgrading Playwright would silently turn
its features back on), and the omnibox popups ours turns off must stay off (each new context
would otherwise start a WebUI renderer, ~1.1 CPU-s).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests import browser


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _browser_cmdline() -> list[str]:
    """The command line of this process's Chromium (the one Playwright drives over a pipe)."""
    for pid in _descendants(os.getpid()):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "--remote-debugging-pipe" in args:
            return args
    raise AssertionError("no Chromium driven by this process")


def test_our_disable_features_carry_playwrights_and_the_omnibox_popups_stay_off() -> None:
    with browser.page() as p:
        p.goto("data:text/html,<p>x</p>")
        lists = [a.split("=", 1)[1].split(",") for a in _browser_cmdline()
                 if a.startswith("--disable-features=")]
        assert lists, "no --disable-features at all"
        playwrights, effective = set(lists[0]), set(lists[-1])
        assert playwrights <= effective, f"Playwright's, missing from ours: {playwrights - effective}"
        assert set(browser.UNUSED_FEATURES) <= effective
        cdp = p.context.browser.new_browser_cdp_session()
        urls = [t["url"] for t in cdp.send("Target.getTargets")["targetInfos"]]
        cdp.detach()
    assert not [u for u in urls if "omnibox-popup" in u], urls


def test_every_page_test_module_runs_in_a_browser_group() -> None:
    """A module that opens pages but is in neither group would start a Chromium on a third
    worker (tests/conftest.py, BROWSER_GROUPS)."""
    import ast

    from tests.conftest import BROWSER_FILE_GROUP, ROOT

    def opens_pages(source: str) -> bool:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module == "tests.browser" \
                    and any(a.name == "page" for a in node.names):
                return True
            if isinstance(node, ast.ImportFrom) and node.module == "tests" \
                    and any(a.name == "browser" for a in node.names):
                return True
        return False

    opening = {f"tests/{p.name}" for p in (ROOT / "tests").glob("test_*.py")
               if opens_pages(p.read_text(encoding="utf-8"))}
    assert opening == set(BROWSER_FILE_GROUP), opening ^ set(BROWSER_FILE_GROUP)
