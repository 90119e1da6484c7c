"""Accessibility checks in the browser: axe-core (vendored by scripts/setup.sh) and computed sizes.

``axe_violations`` runs axe-core's WCAG 2.x A/AA rules (colour contrast among
them) on the rendered page and returns the violations with their nodes. The
script is injected through the DevTools protocol, so a page's strict
Content-Security-Policy does not block it. ``small_text`` lists visible text
whose computed font size is below a bound (the hall's 5 m reading distance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Any, include: str | None = None) -> list[dict[str, Any]]:
    """axe-core's WCAG A/AA violations on the page (or inside the ``include`` selector)."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run scripts/setup.sh (it installs axe-core)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async ([include, tags]) => {
            const r = await axe.run(include ? {include: [include]} : document,
                                    {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
        }""", [include, AA_TAGS])
    return list(result)


def small_text(page: Any, root: str, min_px: float) -> list[dict[str, Any]]:
    """Visible elements under ``root`` with their own text and a computed font size below ``min_px``."""
    return list(page.evaluate(
        """([root, min]) => {
            const out = [];
            for (const el of document.querySelectorAll(root + ', ' + root + ' *')) {
                const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
                if (!own || !el.getClientRects().length) continue;
                const st = getComputedStyle(el);
                if (st.visibility === 'hidden' || st.display === 'none') continue;
                const px = parseFloat(st.fontSize);
                const text = el.textContent.trim().slice(0, 40);
                if (px < min) out.push({tag: el.tagName, id: el.id, text, px});
            }
            return out;
        }""", [root, min_px]))


def font_px(page: Any, selector: str) -> float:
    return float(page.evaluate("(s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize)",
                               selector))


class ConsoleErrors:
    """Console errors and uncaught exceptions of ``page`` from now on (``.errors``)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"exception: {e}"))
