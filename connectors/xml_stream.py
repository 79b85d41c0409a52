"""Streaming, hardened XML reading shared by the XML connectors (CTF, CIN census, SSDA903).

The file is fed to expat (``pyexpat``) in blocks and each record element is built straight into
a dict, so memory stays flat as files grow and no element tree is kept.

Safety, as defusedxml does it (its ``forbid_dtd``, ``forbid_entities`` and ``forbid_external``
handlers, set on the same expat parser): a document type declaration, an entity declaration or
an external entity reference stops the parse with a clear error, so billion-laughs and XXE
payloads are refused before anything expands or is fetched. Parameter entities are never
parsed. Driving expat directly rather than through ``defusedxml.ElementTree.iterparse`` (a
pure-Python tree builder) reads census files about three times faster; see
``benchmarks/bench_xml.py``.

Nothing is lost after a break. When the XML is broken (a flipped byte, a cut, a stray tag), the
reader finds the next record's opening tag after the error and parses on from there, so the
records after the break are read. The stretch it skipped is reported with how many records it
held (counted by their opening and closing tags), its lines and its size, and each of those
records becomes an error item of its own. ``count_records`` counts records the same way over
the whole file, without the parser, so staging can check that every record is accounted for.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

from connectors.base import Extracted

MAX_FIELD = 10_000  # characters in one element's text
# Elements open at once inside a record. DfE schemas go about 6 deep; far deeper nesting would
# make later steps (repr, JSON) exceed Python's recursion limit.
MAX_DEPTH = 64
BLOCK = 256 * 1024
# Longest tag the record-tag scan must see whole across two blocks (a prefix and the name).
_TAG_OVERLAP = 512
# Text kept of one unreadable record (its bytes, for the quarantine), at most.
MAX_KEPT = 16 * 1024
# Parsing resumes inside this synthetic root, so several records may follow one another.
_RESUME_ROOT = b"<_resumed>"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
log = logging.getLogger(__name__)


class UnsafeXml(ValueError):
    """The document declares a DTD or entities, or refers to an external entity."""


class OversizedRecord(ValueError):
    """A record too big to keep: held as an error item of its own, and the file goes on."""


class OversizedField(OversizedRecord):
    """An element's text is longer than any field the index keeps."""

    def __init__(self, tag: str) -> None:
        super().__init__(f"field {tag} longer than {MAX_FIELD} characters")


class NestedTooDeep(OversizedRecord):
    """A record's elements are nested deeper than any DfE file goes."""

    def __init__(self) -> None:
        super().__init__(f"elements nested more than {MAX_DEPTH} deep")


@dataclass(frozen=True)
class Skipped:
    """A stretch of the file the parser could not read: why, where, and each record in it
    (counted by its tags) as the text of its bytes, at most ``MAX_KEPT`` characters each."""

    reason: str
    first_line: int
    last_line: int
    size: int
    records: list[str] = field(default_factory=list)
    to_end: bool = False  # no record start after the error: the rest of the file is skipped

    def describe(self) -> str:
        lines = (
            f"line {self.first_line}"
            if self.first_line == self.last_line
            else f"lines {self.first_line}-{self.last_line}"
        )
        until = "the end of the file" if self.to_end else "the next record"
        return f"{self.reason}; skipped {self.size} bytes ({lines}) to {until}"


@dataclass
class _Place:
    """Where the record being read began, and where the last one read whole ended (absolute
    byte offsets and lines), kept by the element handlers for the resynchronisation."""

    resumed: bool = False  # parsing on after an error, inside ``_RESUME_ROOT``
    shift: int = 0  # absolute offset of the parser's byte 0 (less the resume root's length)
    line_shift: int = 0
    start: int = 0
    start_line: int = 1
    boundary: int = 0  # just past the '<' of the last record's end tag, or where parsing resumed
    boundary_line: int = 1


# One per open element inside a record: (key, children).
_Frames = list[tuple[str, dict[str, Any]]]


_Ready = list[dict[str, Any] | OversizedRecord | Skipped]


def _handle_records(parser: Any, record_tag: str, ready: _Ready, place: _Place) -> list[Any]:
    """Set ``parser``'s element handlers to turn each ``record_tag`` element into a dict as it
    closes, appended to ``ready``.

    The handlers run once per element, so they are closures over plain locals (no attribute
    look-ups; a profile put ~70% of a census read in them) and share one text buffer, cleared
    as each element inside a record opens: when a leaf closes, the buffer holds its text and
    nothing else. The character-data handler is the buffer's own ``append`` (no Python call),
    set only while a record is open, so text outside records is never kept. ``problems`` holds
    the open record's first problem, if any. Returns the open elements (empty between records).
    """
    record = _OpenRecord()
    parser.StartElementHandler = _on_start(parser, record_tag, record, place, ready)
    parser.EndElementHandler = _on_end(parser, ready, record, place)
    return record.frames


@dataclass
class _OpenRecord:
    """The record being read: its open elements, the shared text buffer, its first problem."""

    frames: _Frames = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    problems: list[OversizedRecord] = field(default_factory=list)


def _on_start(
    parser: Any, record_tag: str, record: _OpenRecord, place: _Place, ready: _Ready
) -> Callable[[str, Any], None]:
    frames, texts, problems = record.frames, record.texts, record.problems
    collect_text = texts.append
    clear_text = texts.clear

    def begin_record() -> None:
        place.start = place.shift + parser.CurrentByteIndex
        place.start_line = place.line_shift + parser.CurrentLineNumber
        frames.append((record_tag, {}))
        clear_text()
        parser.CharacterDataHandler = collect_text

    def start(name: str, _attrs: Any) -> None:
        key = name.rpartition(":")[2] if ":" in name else name
        if not frames:
            if key == record_tag:
                begin_record()
        elif key == record_tag:  # a record opening inside another: that one never closed
            ready.append(_unclosed(parser, place))
            place.boundary = place.shift + parser.CurrentByteIndex
            place.boundary_line = place.line_shift + parser.CurrentLineNumber
            frames.clear()
            problems.clear()
            begin_record()
        else:
            frames.append((key, {}))
            clear_text()
            if len(frames) > MAX_DEPTH and not problems:
                problems.append(NestedTooDeep())

    return start


def _unclosed(parser: Any, place: _Place) -> Skipped:
    """The open record, ended by the next record's start tag before its own end tag."""
    here = place.shift + parser.CurrentByteIndex
    line = place.line_shift + parser.CurrentLineNumber
    reason = f"record not closed before the next one began at line {line}"
    return Skipped(reason, place.start_line, line, here - place.start, [""])


def _on_end(
    parser: Any, ready: _Ready, record: _OpenRecord, place: _Place
) -> Callable[[str], None]:
    frames, texts, problems = record.frames, record.texts, record.problems

    def end(_name: str) -> None:
        if not frames:
            return
        key, children = frames.pop()
        if not frames:
            parser.CharacterDataHandler = None
            ready.append(problems.pop() if problems else children)
            place.boundary = place.shift + parser.CurrentByteIndex + 1
            place.boundary_line = place.line_shift + parser.CurrentLineNumber
            return
        value: Any = children
        if not children:
            text = texts[0] if len(texts) == 1 else "".join(texts)
            if len(text) > MAX_FIELD:
                if not problems:
                    problems.append(OversizedField(key))
                text = ""
            value = text.strip() or None
        parent = frames[-1][1]
        if key in parent:
            _add_repeat(parent, key, value)
        else:
            parent[key] = value

    return end


def _add_repeat(parent: dict[str, Any], key: str, value: Any) -> None:
    """A repeated element: its values become a list, in document order."""
    existing = parent[key]
    if isinstance(existing, list):
        existing.append(value)
    else:
        parent[key] = [existing, value]


def _refuse(kind: str) -> Any:
    def handler(*_args: Any) -> None:
        raise UnsafeXml(kind)

    return handler


def _parser(record_tag: str, ready: _Ready, place: _Place, encoding: str | None) -> Any:
    # No namespace processing: DfE files use a default namespace or none; a prefix is dropped.
    parser = expat.ParserCreate(encoding)
    parser.buffer_text = True
    parser.buffer_size = 64 * 1024
    parser.StartDoctypeDeclHandler = _refuse("DTD")
    parser.EntityDeclHandler = _refuse("entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("entity declaration")
    parser.ExternalEntityRefHandler = _refuse("external entity")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def iter_records(
    path: Path, record_tag: str
) -> Iterator[dict[str, Any] | OversizedRecord | Skipped | str]:
    """Each ``record_tag`` element as a dict (or OversizedRecord); after a parse error, a
    ``Skipped`` for what could not be read, then the records from the next record's start tag
    on. Text (the reason) for a file refused whole: empty, or unsafe XML."""
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(0)
        if not head.strip() and not handle.read(BLOCK).strip():
            yield "empty file"
            return
        handle.seek(0)
        yield from _Resynchronising(handle, record_tag, resumable=not head.startswith(_UTF16_BOMS))


class _Resynchronising:
    """Parse a file with expat; after an error, parse on from the next record's start tag."""

    def __init__(self, handle: IO[bytes], record_tag: str, *, resumable: bool) -> None:
        self.handle, self.record_tag, self.resumable = handle, record_tag, resumable
        self.encoding: str | None = None
        self.tokens = _tag_pattern(record_tag)

    def __iter__(self) -> Iterator[dict[str, Any] | OversizedRecord | Skipped | str]:
        place: _Place | None = _Place()
        while place is not None:
            ready: _Ready = []
            parser = _parser(self.record_tag, ready, place, self.encoding)
            if not place.resumed:
                parser.XmlDeclHandler = self._remember_encoding
            frames = _handle_records(parser, self.record_tag, ready, place)
            try:
                if place.resumed:
                    parser.Parse(_RESUME_ROOT, False)
                while block := self.handle.read(BLOCK):
                    parser.Parse(block, False)
                    yield from ready
                    ready.clear()
                parser.Parse(b"", True)
                yield from ready
                return
            except expat.ExpatError as exc:
                yield from ready
                skipped, place = self._skip(parser, exc, place, open_record=bool(frames))
                yield skipped
            except LookupError as exc:  # an encoding declared that no codec reads
                yield from ready
                yield self._rest(place, f"unknown encoding declared ({exc})")
                return
            except UnsafeXml as exc:
                yield from ready
                line = place.line_shift + parser.CurrentLineNumber
                yield f"unsafe XML refused ({exc}) at line {line}"
                return

    def _remember_encoding(self, _version: Any, encoding: str | None, _standalone: int) -> None:
        """The declared encoding, to parse on in after an error (one Python knows, else none:
        the first parser reports an unknown one as its error)."""
        try:
            self.encoding = codecs.lookup(encoding).name if encoding else None
        except LookupError:
            self.encoding = None

    def _skip(
        self, parser: Any, exc: expat.ExpatError, place: _Place, *, open_record: bool
    ) -> tuple[Skipped, _Place | None]:
        """What the error made unreadable (from the end of the last record read whole to the
        next record's start tag after the error), and where to parse on (None: nowhere)."""
        error_at = place.shift + max(parser.ErrorByteIndex, 0)
        line = place.line_shift + exc.lineno
        column = f" column {exc.offset}" if not place.resumed or exc.lineno > 1 else ""
        reason = f"malformed XML at line {line}{column} ({expat.errors.messages[exc.code]})"
        return self._lost(place, error_at, reason, open_record=open_record)

    def _rest(self, place: _Place, reason: str) -> Skipped:
        """The rest of the file from the last record read whole, unreadable for ``reason``."""
        skipped, _ = self._lost(place, 1 << 62, reason, open_record=False)
        return skipped

    def _lost(
        self, place: _Place, error_at: int, reason: str, *, open_record: bool
    ) -> tuple[Skipped, _Place | None]:
        tokens, end, end_line, resume = self._region(place, error_at)
        starts = _record_starts(tokens)
        if open_record and not starts:
            starts = [place.start]
        ends = [*starts[1:], end] if starts else []
        kept = [self._text(at, until) for at, until in zip(starts, ends, strict=True)]
        skipped = Skipped(
            reason, place.boundary_line, end_line, end - place.boundary, kept, resume is None
        )
        if resume is None or not self.resumable:
            return skipped, None
        self.handle.seek(end)
        again = _Place(
            resumed=True,
            shift=end - len(_RESUME_ROOT),
            line_shift=end_line - 1,
            start=end,
            start_line=end_line,
            boundary=end,
            boundary_line=end_line,
        )
        return skipped, again

    def _region(
        self, place: _Place, error_at: int
    ) -> tuple[list[tuple[bool, int]], int, int, bool | None]:
        """The record tags from the last boundary up to the first start tag after the error:
        (tokens, where the region ends, the line it ends on, True if a start tag ends it)."""
        tokens: list[tuple[bool, int]] = []
        line = place.boundary_line
        for is_end, at, newlines, size in _scan(self.handle, place.boundary, self.tokens):
            if at is None:  # end of file
                return tokens, place.boundary + size, line + newlines, None
            if not is_end and at > error_at:
                return tokens, at, line + newlines, True
            tokens.append((is_end, at))
        raise AssertionError("the scan always ends")  # pragma: no cover

    def _text(self, start: int, end: int) -> str:
        self.handle.seek(start)
        data = self.handle.read(min(end - start, MAX_KEPT))
        try:
            return data.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:
            return data.decode("utf-8", errors="replace")


@cache
def _tag_pattern(record_tag: str) -> re.Pattern[bytes]:
    """A record's start tag (``<Pupil>``, ``<ns:Pupil attr="">``, ``<Pupil/>``) or end tag."""
    name = re.escape(record_tag.encode("ascii"))
    return re.compile(rb"<(/?)(?:[A-Za-z_][\w.\-]*:)?" + name + rb"(?=[\s/>])")


def _scan(
    handle: IO[bytes], start: int, pattern: re.Pattern[bytes]
) -> Iterator[tuple[bool, int | None, int, int]]:
    """Record tags from ``start`` to the end of the file, block by block: (is an end tag,
    absolute offset, newlines since ``start``, bytes since ``start``); offset None at the end."""
    handle.seek(start)
    carry, carry_at, newlines = b"", start, 0
    while True:
        block = handle.read(BLOCK)
        data = carry + block
        final = not block
        cut = len(data) if final else max(len(data) - _TAG_OVERLAP, 0)
        last = 0
        for match in pattern.finditer(data, 0, len(data)):
            if match.start() >= cut:
                break
            newlines += data.count(b"\n", last, match.start())
            last = match.start()
            yield bool(match.group(1)), carry_at + match.start(), newlines, match.start()
        newlines += data.count(b"\n", last, cut)
        if final:
            yield False, None, newlines, carry_at - start + len(data)
            return
        carry, carry_at = data[cut:], carry_at + cut


def _record_starts(tokens: list[tuple[bool, int]]) -> list[int]:
    """Where each record begins, counted from its tags in order: every start tag begins one;
    an end tag with no record open (its start tag was damaged) stands for one of its own."""
    starts: list[int] = []
    open_record = False
    for is_end, at in tokens:
        if not is_end:
            starts.append(at)
            open_record = True
        elif open_record:
            open_record = False
        else:
            starts.append(at)
    return starts


def count_records(path: Path, record_tag: str) -> int:
    """The records in a file, counted from their start and end tags without parsing the XML
    (as ``_record_starts`` counts them), so the count does not depend on the parser."""
    with path.open("rb") as handle:
        head = handle.read(2)
        if head in _UTF16_BOMS:
            return _count_in_text(path, record_tag)
        pattern = _tag_pattern(record_tag)
        tokens = [(is_end, at) for is_end, at, _, _ in _scan(handle, 0, pattern) if at is not None]
    return len(_record_starts(tokens))


def _count_in_text(path: Path, record_tag: str) -> int:
    pattern = re.compile(r"<(/?)(?:[A-Za-z_][\w.\-]*:)?" + re.escape(record_tag) + r"(?=[\s/>])")
    text = path.read_text(encoding="utf-16", errors="replace")
    tokens = [(bool(m.group(1)), m.start()) for m in pattern.finditer(text)]
    return len(_record_starts(tokens))


def xml_records(path: Path, record_tag: str, noun: str) -> Iterator[Extracted]:
    """Each ``record_tag`` element as a dict; every record that cannot be read is an error item.

    Positions read ``<file> <noun> <ordinal>``, so an error names where it happened. A record
    with an over-long field or too deeply nested is an error item of its own; so is each record
    in a stretch a parse error made unreadable (the reader parses on after it). A file refused
    whole (empty, unsafe, or broken with no record in it) is one error item.
    """
    named = f"{path.name} {noun} "
    ordinal = 0
    for found in iter_records(path, record_tag):
        if isinstance(found, str):
            yield Extracted(f"{named}{ordinal + 1}", error=found)
            return
        if isinstance(found, Skipped):
            if not found.records:
                log.debug("%s: %s, no record in it", path.name, found.describe())
                if ordinal == 0 and found.to_end:  # nothing in the file could be read
                    yield Extracted(f"{named}1", error=found.describe())
                    return
            for kept in found.records:
                ordinal += 1
                yield Extracted(f"{named}{ordinal}", error=found.describe(), raw=kept)
            continue
        ordinal += 1
        if isinstance(found, OversizedRecord):
            yield Extracted(f"{named}{ordinal}", error=str(found))
            continue
        yield Extracted(f"{named}{ordinal}", record=found)


def first_record(path: Path, record_tag: str) -> dict[str, Any] | None:
    """The first ``record_tag`` element as a dict (the file's header, say), or None."""
    for found in iter_records(path, record_tag):
        return found if isinstance(found, dict) else None
    return None


def as_list_of_dicts(value: Any) -> list[dict[str, Any]]:
    """A repeated element's dicts: one element comes as a dict, several as a list."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def path_text(record: dict[str, Any] | None, path: str) -> str | None:
    """The text at a slash-separated path in a record dict (first of repeats), or None."""
    value: Any = record
    for part in path.split("/"):
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value if isinstance(value, str) else None
