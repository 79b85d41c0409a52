"""CSV exports: one dict per row, header names as keys, bad rows reported not dropped."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from connectors.base import Extracted

MAX_FIELD = 10_000


def read_csv_rows(path: Path) -> Iterator[Extracted]:
    """Rows of a UTF-8 CSV (a byte-order mark is allowed); undecodable or ragged rows are errors."""
    csv.field_size_limit(MAX_FIELD)
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            return
        except csv.Error as exc:
            yield Extracted(f"{path.name} header", error=f"unreadable CSV header: {exc}")
            return
        while True:
            position = f"{path.name} line {reader.line_num + 1}"
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Extracted(position, error=f"unreadable CSV row: {exc}")
                continue
            yield _row(position, header, row)


def _row(position: str, header: list[str], row: list[str]) -> Extracted:
    raw = json.dumps(row, ensure_ascii=False, default=str)
    if any(_undecodable(cell) for cell in row):
        return Extracted(
            position, error="not valid UTF-8", raw=raw.encode("utf-8", "replace").decode()
        )
    if len(row) != len(header):
        return Extracted(
            position, error=f"{len(row)} fields where the header has {len(header)}", raw=raw
        )
    return Extracted(
        position, record={k: (v.strip() or None) for k, v in zip(header, row, strict=True)}
    )


def _undecodable(cell: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in cell)
