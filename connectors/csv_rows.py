"""CSV exports: one dict per row, header names as keys, bad rows reported not dropped.

Every problem becomes an error item naming the file and line, never a cell's content: bytes that
are not UTF-8, a UTF-16 file, a ragged row, an over-long field, a NUL byte, a quote left open.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from connectors.base import Extracted

MAX_FIELD = 10_000
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_csv_rows(path: Path) -> Iterator[Extracted]:
    """Rows of a UTF-8 CSV (a byte-order mark is allowed); unreadable rows are error items."""
    with path.open("rb") as probe:
        start = probe.read(4)
    if not start:
        yield Extracted(f"{path.name} line 1", error="empty file")
        return
    if start.startswith(UTF16_BOMS):
        yield Extracted(
            f"{path.name} line 1", error="UTF-16 text (byte-order mark); expected UTF-8"
        )
        return
    csv.field_size_limit(MAX_FIELD)
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        header, problem = _header(reader)
        if problem:
            yield Extracted(f"{path.name} line 1", error=problem)
            return
        while True:
            position = f"{path.name} line {reader.line_num + 1}"
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Extracted(position, error=f"unreadable CSV row: {_csv_reason(exc)}")
                continue
            if row:
                yield _row(position, header, row)


def _header(reader: Iterator[list[str]]) -> tuple[list[str], str | None]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return [], "empty file"
    except csv.Error as exc:
        return [], f"unreadable CSV header: {_csv_reason(exc)}"
    if any(_undecodable(name) for name in header):
        return [], "header is not valid UTF-8"
    repeated = sorted(name for name, n in Counter(header).items() if n > 1)
    if repeated:
        return [], f"header repeats column(s) {', '.join(repeated)}"
    if not any(header):
        return [], "header has no column names"
    return header, None


def _csv_reason(exc: csv.Error) -> str:
    """The csv module's reason, which names limits and characters, never the field's text."""
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a field longer than {MAX_FIELD} characters"
    return text if len(text) < 80 else text[:80]


def _row(position: str, header: list[str], row: list[str]) -> Extracted:
    raw = json.dumps(row, ensure_ascii=False, default=str)
    if any(_undecodable(cell) for cell in row):
        return Extracted(
            position,
            error=f"not valid UTF-8 in column {_first_bad_column(header, row)}",
            raw=raw.encode("utf-8", "replace").decode(),
        )
    if any("\x00" in cell for cell in row):
        return Extracted(position, error="unreadable CSV row: line contains NUL", raw=raw)
    if len(row) != len(header):
        return Extracted(
            position, error=f"{len(row)} fields where the header has {len(header)}", raw=raw
        )
    return Extracted(
        position, record={k: (v.strip() or None) for k, v in zip(header, row, strict=True)}
    )


def _first_bad_column(header: list[str], row: list[str]) -> str:
    for number, cell in enumerate(row):
        if _undecodable(cell):
            return header[number] if number < len(header) else str(number + 1)
    return "?"


def _undecodable(cell: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in cell)
