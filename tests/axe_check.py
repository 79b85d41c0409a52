"""axe-core (from the npm registry: tests/axe/package.json and its lock) run on a Playwright page.

``.ci/run`` installs it with ``npm ci`` in tests/axe; the browser tests call ``axe_problems`` on
every page they visit and expect no serious or critical violation. The pages are tested with
JavaScript off, where axe's promise never settles (no timers), so axe runs on a copy: a
JavaScript-enabled tab in the same browser loads the page's DOM at the page's own URL (the
navigation is answered from the copy, so nothing is requested or audited twice; the
stylesheet comes from the server, so colour contrast is judged on the real styles).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
ALWAYS = ("region",)  # content outside a landmark: moderate for axe, fixed here all the same
RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
  }));
}"""


class AxeMissingError(RuntimeError):
    """axe-core is not installed in tests/axe."""


@cache
def axe_source() -> str:
    if not AXE.exists():
        raise AxeMissingError(f"axe-core is not installed: run `npm ci` in {AXE.parents[2]}")
    return AXE.read_text(encoding="utf-8")


def axe_available() -> bool:
    return AXE.exists()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def axe_violations(page: Page) -> list[dict[str, object]]:
    """Every axe violation on the page as it is now (rule id, impact, help, first targets)."""
    browser = page.context.browser
    assert browser is not None
    html = page.content()
    copy = browser.new_page(java_script_enabled=True, viewport=page.viewport_size)
    try:
        copy.route(page.url, lambda route: route.fulfill(body=html, content_type="text/html"))
        copy.goto(page.url, wait_until="load")
        copy.evaluate(f"() => {{ {axe_source()}\n }}")
        violations: list[dict[str, object]] = copy.evaluate(RUN)
    finally:
        copy.close()
    return violations


def axe_problems(page: Page) -> list[str]:
    """The serious and critical violations, one line each."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['targets']}"
        for v in axe_violations(page)
        if v["impact"] in SERIOUS or v["id"] in ALWAYS
    ]
