"""Reports printed to PDF by Debian's chromium through Playwright (the browser tests use it too)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet on a closed network: no background connections, updates or sync.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def print_pdf(
    html: Path, pdf: Path, *, margin_mm: tuple[int, int, int, int], scale: float = 1.0
) -> Path:
    """Print the HTML page to an A4 PDF (margins top, bottom, left, right in mm)."""
    from playwright.sync_api import sync_playwright

    top, bottom, left, right = (f"{m}mm" for m in margin_mm)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(html.resolve().as_uri(), wait_until="load")
            page.pdf(
                path=str(pdf),
                format="A4",
                print_background=True,
                scale=scale,
                margin={"top": top, "bottom": bottom, "left": left, "right": right},
            )
        finally:
            browser.close()
    return pdf
