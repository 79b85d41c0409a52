"""The text of a PDF chromium printed, for tests, read with pypdf (each font's glyphs mapped
back through its own ToUnicode CMap: a report's PDF carries several fonts, whose glyph ids
overlap)."""

from __future__ import annotations

import io


def pdf_text(data: bytes) -> str:
    """Every page's text in order, lines joined without a break (compare without spaces)."""
    from pypdf import PdfReader

    pages = PdfReader(io.BytesIO(data)).pages
    return "".join(page.extract_text().replace("\n", "") for page in pages)
