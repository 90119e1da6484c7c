"""Headless Debian Chromium for page tests (Playwright drives it; nothing is downloaded)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed (scripts/setup.sh installs it)")
    return path


@contextmanager
def page(width: int = 1280, height: int = 800) -> Iterator[Any]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
            yield ctx.new_page()
        finally:
            browser.close()


def sign_in(p: Any, *who: str) -> None:
    """Sign demo staff in on the kiosk page by id and PIN; waits for each name."""
    from testbed.demo_data import PINS, STAFF

    names = {sid: name for sid, name, *_ in STAFF}
    for person in who:
        p.fill("#inspector-id", person)
        p.fill("#inspector-pin", PINS[person])
        p.click("#signin-form button")
        p.wait_for_selector(f"#inspectors:has-text('{names[person]}')")
