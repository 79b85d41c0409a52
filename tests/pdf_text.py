"""The text of a PDF chromium printed, for tests: no PDF library is installed, and Skia's PDFs
are simple (Flate streams; text as hex glyph ids, mapped back by each font's ToUnicode CMap)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
PAIR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
RANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")


def _streams(data: bytes) -> Iterator[bytes]:
    for match in STREAM.finditer(data):
        try:
            yield zlib.decompress(match.group(1))
        except zlib.error:
            continue


def _cmap(stream: bytes, into: dict[str, str]) -> None:
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
        for src, dst in PAIR.findall(block):
            into[src.decode().upper()] = bytes.fromhex(dst.decode()).decode("utf-16-be", "ignore")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.S):
        for low, high, dst in RANGE.findall(block):
            first, start = int(low, 16), int(dst, 16)
            for n in range(first, int(high, 16) + 1):
                into[f"{n:0{len(low)}X}"] = chr(start + n - first)


def pdf_text(data: bytes) -> str:
    """Every glyph run's text, joined without spaces between runs (compare without spaces)."""
    glyphs: dict[str, str] = {}
    pages: list[bytes] = []
    for stream in _streams(data):
        if b"beginbfchar" in stream or b"beginbfrange" in stream:
            _cmap(stream, glyphs)
        else:
            pages.append(stream)
    runs = (
        hexes.decode().upper()
        for page in pages
        for hexes in re.findall(rb"<([0-9A-Fa-f]{4,})>", page)
    )
    return "".join(glyphs.get(run[i : i + 4], "") for run in runs for i in range(0, len(run), 4))
