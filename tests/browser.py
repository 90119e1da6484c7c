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
def page(width: int = 1280, height: int = 800, *, touch: bool = False) -> Iterator[Any]:
    """A fresh page; ``touch`` makes a touch screen (``page.tap``), as a kiosk has."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                      has_touch=touch)
            yield ctx.new_page()
        finally:
            browser.close()


def press(p: Any, selector: str) -> None:
    """Tap on a touch page, click otherwise: never a keyboard event."""
    if p.evaluate("navigator.maxTouchPoints > 0"):
        p.tap(selector)
    else:
        p.click(selector)


def keypad(p: Any, text: str) -> None:
    """Type ``text`` on the kiosk's on-screen keypad (opened by the caller) and press 确定."""
    p.wait_for_selector("#keypad:not([hidden])")
    for ch in text:
        press(p, f"#keypad [data-key='{ch}']")
    press(p, "#keypad-ok")
    p.wait_for_selector("#keypad", state="hidden")


def sign_in(p: Any, *who: str) -> None:
    """Sign demo staff in on the kiosk page: tap the name, the PIN on the keypad; waits for each."""
    from testbed.demo_data import PINS, STAFF

    names = {sid: name for sid, name, *_ in STAFF}
    for person in who:
        if p.is_visible("#add-person"):
            press(p, "#add-person")
        press(p, f"#roster [data-inspector='{person}']")
        keypad(p, PINS[person])
        p.wait_for_selector(f"#inspectors:has-text('{names[person]}')")
