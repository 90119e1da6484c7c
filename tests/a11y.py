"""Accessibility checks of a rendered page: axe-core (vendored, never fetched) and console errors.

``axe_violations(page)`` injects ``tests/vendor/axe-core/axe.min.js`` (put there by
``scripts/vendor-axe.sh`` from the npm registry, licence beside it) and runs the
WCAG 2.x A and AA rules on what the page shows now; it returns the violations as
short readable strings (rule, impact, the offending elements), so an assertion
failure names what to fix. ``ConsoleErrors`` collects console errors and
uncaught exceptions of a page while it is driven.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Any, *, tags: list[str] | None = None) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated, not a <script> tag: the kiosk's CSP refuses inline scripts, rightly.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                               resultTypes: ["violations"]});
            return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary)}));
        }""", tags or WCAG_AA)
    return [f"{v['id']} ({v['impact']}): {v['help']} -> " + " | ".join(v["nodes"][:5])
            for v in result]


class ConsoleErrors:
    """Console errors and uncaught exceptions of ``page`` from now on (``.errors``)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"exception: {e}"))
