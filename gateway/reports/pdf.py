"""Reports printed to PDF by Debian's chromium through Playwright (the browser tests use it too)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
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


def no_pdf_note() -> str:
    """One plain line for a person whose report was made without its PDF, and how to fix it."""
    return (
        f"PDF: not made, because chromium is not installed at {CHROMIUM}. "
        "The HTML report is complete; print it from a browser, or install chromium "
        "(Debian or Ubuntu: sudo apt-get install chromium fonts-liberation) and run this again."
    )


# Chromium fills these on every page: the running title and generation time at the top, the
# page number at the bottom (``title``, ``pageNumber`` and ``totalPages`` are its own classes).
HEADER = (
    '<div style="font: 8pt Arial, sans-serif; color: #505a5f; width: 100%; margin: 0 12mm;'
    ' display: flex; justify-content: space-between;"><span>{title}</span>'
    "<span>Generated {generated}</span></div>"
)
FOOTER = (
    '<div style="font: 8pt Arial, sans-serif; color: #505a5f; width: 100%; margin: 0 12mm;'
    ' text-align: right;">Page <span class="pageNumber"></span> of'
    ' <span class="totalPages"></span></div>'
)


def print_pdf(
    html: Path,
    pdf: Path,
    *,
    margin_mm: tuple[int, int, int, int],
    scale: float = 1.0,
    title: str = "",
) -> Path:
    """Print the HTML page to an A4 PDF (margins top, bottom, left, right in mm), with
    ``title`` (the report and its period) and the generation time at the top of every page and
    "Page N of M" at the bottom. The top and bottom margins must leave room for them."""
    from playwright.sync_api import sync_playwright

    generated = datetime.now(UTC).strftime("%d %B %Y %H:%M UTC").lstrip("0")
    header = HEADER.format(title=escape(title), generated=generated)
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
                display_header_footer=True,
                header_template=header,
                footer_template=FOOTER,
                margin={"top": top, "bottom": bottom, "left": left, "right": right},
            )
        finally:
            browser.close()
    return pdf
