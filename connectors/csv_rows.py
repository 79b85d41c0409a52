"""CSV exports: one dict per row, header names as keys, bad rows reported not dropped.

Every problem becomes an error item naming the file and line, never a cell's content: bytes that
are not UTF-8, a UTF-16 file, a ragged row, an over-long field, a NUL byte, a quote left open.

Nothing is lost after a break. A quote left open would make the csv module read the rest of
the file as one field; instead, when a row spanning several lines cannot be read (the file
ends inside the quote, the field grows past ``MAX_FIELD``), only its first line is held and
reading starts again at the next line. ``count_records`` counts rows by the same rules
with a scanner of its own (no csv module), so staging can check that every row is accounted
for.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NamedTuple

from connectors.base import Extracted

MAX_FIELD = 10_000
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# csv errors after which a row spanning lines is held by its first line and reading starts
# again at the next: the row never ended where it should (end of file inside a quote, a field
# past the limit). Any other error (text after a closing quote) holds the row whole.
_READ_AGAIN = ("unexpected end of data", "field larger than field limit")
BLANK_LINES = ("\n", "\r\n", "\r", "")


def _open(path: Path) -> IO[str]:
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


class _Lines:
    """A text file's lines (split as the csv module needs: ``newline=""``), numbered, with
    lines a failed row read given back to be read again."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.number = 0
        self.back: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.back:
            numbered = self.back.popleft()
        else:
            line = self.handle.readline()
            if not line:
                raise StopIteration
            self.number += 1
            numbered = (self.number, line)
        self.taken.append(numbered)
        return numbered[1]

    def give_back(self, lines: list[tuple[int, str]]) -> None:
        self.back.extendleft(reversed(lines))


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
    with _open(path) as handle:
        lines = _Lines(handle)
        rows = _rows(path.name, lines, csv.reader(lines, strict=True))
        first = next(rows, None)
        if first is None:
            yield Extracted(f"{path.name} line 1", error="empty file")
            return
        header, problem = _header(first)
        held = 0
        for item in rows:
            held += 1
            if isinstance(item, Extracted):
                yield item
            elif problem:  # the header cannot name the fields: each row is held, not read
                raw = json.dumps(item.record, ensure_ascii=False)
                yield Extracted(item.position, error=f"{problem}; row not read", raw=raw)
            else:
                yield _row(item.position, header, item.record)
        if problem and not held:
            yield Extracted(f"{path.name} line 1", error=problem)


class _Row(NamedTuple):
    position: str
    record: list[str]


def _rows(name: str, lines: _Lines, reader: Iterator[list[str]]) -> Iterator[_Row | Extracted]:
    """Each row with its position, or an error item; a row that spans lines and fails for a
    reason in ``_READ_AGAIN`` is held by its first line only, and the lines after it are read
    again."""
    while True:
        lines.taken = []
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = _csv_reason(exc)
            taken = lines.taken
            if len(taken) > 1 and str(exc).startswith(_READ_AGAIN):
                lines.give_back(taken[1:])
                taken = taken[:1]
                reason += f"; read again from line {taken[0][0] + 1}"
            yield Extracted(
                f"{name} line {taken[0][0]}",
                error=f"unreadable CSV row: {reason}",
                raw="".join(text for _n, text in taken).encode("utf-8", "replace").decode(),
            )
            continue
        if row:
            yield _Row(f"{name} line {lines.taken[0][0]}", row)


def _header(first: _Row | Extracted) -> tuple[list[str], str | None]:
    if isinstance(first, Extracted):
        return [], (first.error or "").replace("unreadable CSV row", "unreadable CSV header")
    header = [name.strip() for name in first.record]
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


# --- counting rows without the csv module ---------------------------------------------------

_FIELD_START, _IN_FIELD, _IN_QUOTES, _QUOTE_IN_QUOTES = range(4)
_ENDS_ROW, _READ_AGAIN_FROM_NEXT = "ends", "again"


def count_records(path: Path) -> int:
    """The rows after the header, counted by a scanner of its own under the reader's rules.

    A row ends at a line break outside quotes; a quote opens a quoted field only at a field's
    start; a row that reaches the end of the file inside quotes, or grows a field past
    ``MAX_FIELD``, counts its first line only and counting goes on from the next line; text
    after a closing quote ends the row with its line. Blank lines are not rows. 0 for an empty
    or UTF-16 file (the reader refuses it whole)."""
    with path.open("rb") as probe:
        start = probe.read(4)
    if not start or start.startswith(UTF16_BOMS):
        return 0
    with _open(path) as handle:
        lines = _Lines(handle)
        rows = sum(1 for _ in _row_spans(lines))
    return max(rows - 1, 0)  # the first row is the header


def _row_spans(lines: _Lines) -> Iterator[int]:
    """The first line number of each row."""
    for line in lines:
        number = lines.taken[-1][0]
        lines.taken = lines.taken[-1:]
        if '"' not in line:  # the usual line: a whole row, or blank
            if line not in BLANK_LINES:
                yield number
            continue
        if _scan_row(lines, line) != _READ_AGAIN_FROM_NEXT:
            yield number
            continue
        yield number
        lines.give_back(lines.taken[1:])


def _scan_row(lines: _Lines, line: str) -> str:
    """Scan a row from its first line: how it ended (taking further lines from ``lines``)."""
    state, length = _FIELD_START, 0
    while True:
        state, length, outcome = _scan_line(line, state, length)
        if outcome:
            return outcome
        if state != _IN_QUOTES:
            return _ENDS_ROW
        following = next(lines, None)
        if following is None:  # the file ends inside quotes
            return _READ_AGAIN_FROM_NEXT if len(lines.taken) > 1 else _ENDS_ROW
        line = following


def _scan_line(line: str, state: int, length: int) -> tuple[int, int, str | None]:
    """One line of a row through the states of a CSV field: the state and field length after
    it, and how the row ended if it ended within the line."""
    for char in line:
        step = _quoted if state >= _IN_QUOTES else _unquoted
        state, adds, ended = step(char, state)
        if ended:
            return state, length, ended
        if adds:
            if length >= MAX_FIELD:
                return state, length, _READ_AGAIN_FROM_NEXT
            length += 1
        elif state == _FIELD_START:
            length = 0
    return state, length, None


def _unquoted(char: str, state: int) -> tuple[int, bool, str | None]:
    """(next state, whether the character joins the field, the row's end if it ends here)."""
    if char == ",":
        return _FIELD_START, False, None
    if char in "\r\n":
        return _FIELD_START, False, _ENDS_ROW
    if char == '"' and state == _FIELD_START:
        return _IN_QUOTES, False, None
    return _IN_FIELD, True, None


def _quoted(char: str, state: int) -> tuple[int, bool, str | None]:
    if state == _IN_QUOTES:
        return (_QUOTE_IN_QUOTES, False, None) if char == '"' else (_IN_QUOTES, True, None)
    if char == '"':  # a doubled quote: one quote in the field
        return _IN_QUOTES, True, None
    if char == ",":
        return _FIELD_START, False, None
    # A line break ends the row; any other text after a closing quote is an error that ends
    # the row with its line.
    return _FIELD_START, False, _ENDS_ROW
