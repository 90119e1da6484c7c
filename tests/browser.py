"""Headless Debian Chromium for page tests (Playwright drives it; nothing is downloaded)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import sync_playwright

# Playwright's own ``--disable-features`` list (playwright-core's chromiumSwitches.ts, for the
# locked Playwright). Chromium honours only the last ``--disable-features`` on its command line,
# so the one we add must carry Playwright's too; tests/test_browser_rig.py fails when the locked
# Playwright's list is no longer all in ours.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin",
    "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch",
    "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion")
# Chromium preloads its omnibox popups (chrome://omnibox-popup.top-chrome, a WebUI renderer) for
# every new window, which is every browser context a test opens: about 1.1 CPU-s each, three
# quarters of what a page cost (measured 1.49 -> 0.38 CPU-s a context). No test shows an omnibox.
UNUSED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + UNUSED_FEATURES)]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed (scripts/setup.sh installs it)")
    return path


class _Shared:
    """One Playwright driver and one Chromium per test process, started on first use.

    Launching them costs about 1.4 CPU-s and 1–4 s of wall time; a test gets its own browser
    context instead (cookies, storage, cache and viewport of its own), which is what isolates
    one page test from another. ``close()`` runs at the end of the session (tests/conftest.py).
    """

    pw: Any = None
    browser: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls.browser is None or not cls.browser.is_connected():
            if cls.pw is None:
                cls.pw = sync_playwright().start()
            cls.browser = cls.pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        return cls.browser

    @classmethod
    def close(cls) -> None:
        if cls.browser is not None and cls.browser.is_connected():
            cls.browser.close()
        if cls.pw is not None:
            cls.pw.stop()
        cls.pw = cls.browser = None


close_shared_browser = _Shared.close


@contextmanager
def page(width: int = 1280, height: int = 800, *, touch: bool = False, **context: Any) -> Iterator[Any]:
    """A fresh page in a fresh browser context; ``touch`` makes a touch screen (``page.tap``), as a
    kiosk has; ``context`` adds Playwright context options (``is_mobile``, ``ignore_https_errors``)."""
    ctx = _Shared.get().new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                    has_touch=touch, **context)
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


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
