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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.parsers import expat

from connectors.base import Extracted

MAX_FIELD = 10_000  # characters in one element's text
# Elements open at once inside a record. DfE schemas go about 6 deep; far deeper nesting would
# make later steps (repr, JSON) exceed Python's recursion limit.
MAX_DEPTH = 64
BLOCK = 256 * 1024


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


# One per open element inside a record: (key, children).
_Frames = list[tuple[str, dict[str, Any]]]


def _handle_records(
    parser: Any, record_tag: str, ready: list[dict[str, Any] | OversizedRecord]
) -> None:
    """Set ``parser``'s element handlers to turn each ``record_tag`` element into a dict as it
    closes, appended to ``ready``.

    The handlers run once per element, so they are closures over plain locals (no attribute
    look-ups; a profile put ~70% of a census read in them) and share one text buffer, cleared
    as each element inside a record opens: when a leaf closes, the buffer holds its text and
    nothing else. The character-data handler is the buffer's own ``append`` (no Python call),
    set only while a record is open, so text outside records is never kept. ``problems`` holds
    the open record's first problem, if any.
    """
    frames: _Frames = []
    texts: list[str] = []
    problems: list[OversizedRecord] = []
    parser.StartElementHandler = _on_start(parser, record_tag, frames, texts, problems)
    parser.EndElementHandler = _on_end(parser, ready, frames, texts, problems)


def _on_start(
    parser: Any,
    record_tag: str,
    frames: _Frames,
    texts: list[str],
    problems: list[OversizedRecord],
) -> Callable[[str, Any], None]:
    suffix = ":" + record_tag
    collect_text = texts.append
    clear_text = texts.clear

    def start(name: str, _attrs: Any) -> None:
        if frames:
            frames.append((name.rpartition(":")[2] if ":" in name else name, {}))
            clear_text()
            if len(frames) > MAX_DEPTH and not problems:
                problems.append(NestedTooDeep())
        elif name == record_tag or name.endswith(suffix):
            frames.append((record_tag, {}))
            clear_text()
            parser.CharacterDataHandler = collect_text

    return start


def _on_end(
    parser: Any,
    ready: list[dict[str, Any] | OversizedRecord],
    frames: _Frames,
    texts: list[str],
    problems: list[OversizedRecord],
) -> Callable[[str], None]:
    def end(_name: str) -> None:
        if not frames:
            return
        key, children = frames.pop()
        if not frames:
            parser.CharacterDataHandler = None
            ready.append(problems.pop() if problems else children)
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


def _parser(record_tag: str, ready: list[dict[str, Any] | OversizedRecord]) -> Any:
    # No namespace processing: DfE files use a default namespace or none; a prefix is dropped.
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = 64 * 1024
    _handle_records(parser, record_tag, ready)
    parser.StartDoctypeDeclHandler = _refuse("DTD")
    parser.EntityDeclHandler = _refuse("entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("entity declaration")
    parser.ExternalEntityRefHandler = _refuse("external entity")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def iter_records(path: Path, record_tag: str) -> Iterator[dict[str, Any] | OversizedRecord | str]:
    """Each ``record_tag`` element as a dict (or OversizedRecord); a parse error yields its
    reason as text and ends the file."""
    ready: list[dict[str, Any] | OversizedRecord] = []
    parser = _parser(record_tag, ready)
    seen_bytes = False
    with path.open("rb") as handle:
        try:
            while block := handle.read(BLOCK):
                seen_bytes = seen_bytes or bool(block.strip())
                parser.Parse(block, False)
                yield from ready
                ready.clear()
            if not seen_bytes:
                yield "empty file"
                return
            parser.Parse(b"", True)
            yield from ready
        except expat.ExpatError as exc:
            yield from ready
            reason = expat.errors.messages[exc.code]
            yield f"malformed XML at line {exc.lineno} column {exc.offset} ({reason})"
        except UnsafeXml as exc:
            yield f"unsafe XML refused ({exc}) at line {parser.CurrentLineNumber}"


def xml_records(path: Path, record_tag: str, noun: str) -> Iterator[Extracted]:
    """Each ``record_tag`` element as a dict; a parse error ends the file with one error item.

    Positions read ``<file> <noun> <ordinal>``, so an error names where it happened. A record
    with an over-long field or too deeply nested is an error item of its own, and the file goes
    on.
    """
    named = f"{path.name} {noun} "
    for ordinal, found in enumerate(iter_records(path, record_tag), start=1):
        position = f"{named}{ordinal}"
        if isinstance(found, str):
            yield Extracted(position, error=found)
            return
        if isinstance(found, OversizedRecord):
            yield Extracted(position, error=str(found))
            continue
        yield Extracted(position, record=found)


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
