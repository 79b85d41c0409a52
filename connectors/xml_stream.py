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

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.parsers import expat

from connectors.base import Extracted

MAX_FIELD = 10_000  # characters in one element's text
BLOCK = 256 * 1024


class UnsafeXml(ValueError):
    """The document declares a DTD or entities, or refers to an external entity."""


class OversizedField(ValueError):
    """An element's text is longer than any field the index keeps."""

    def __init__(self, tag: str) -> None:
        super().__init__(f"field {tag} longer than {MAX_FIELD} characters")


class _RecordBuilder:
    """expat handlers that turn each ``record_tag`` element into a dict, as it closes.

    Inside a record the character-data handler is the open element's ``list.append`` itself,
    swapped as elements open and close, so text costs no Python call.
    """

    def __init__(self, record_tag: str) -> None:
        self.record_tag = record_tag
        # One frame per open element inside a record: (key, children dict, text parts).
        self.frames: list[tuple[str, dict[str, Any], list[str]]] = []
        self.ready: list[dict[str, Any] | OversizedField] = []
        self.oversized: OversizedField | None = None
        self.parser: Any = None

    def start(self, name: str, _attrs: Any) -> None:
        key = name.rsplit(":", 1)[-1] if ":" in name else name
        if self.frames or key == self.record_tag:
            parts: list[str] = []
            self.frames.append((key, {}, parts))
            self.parser.CharacterDataHandler = parts.append

    def end(self, _name: str) -> None:
        frames = self.frames
        if not frames:
            return
        key, children, parts = frames.pop()
        if not frames:
            self.parser.CharacterDataHandler = None
            self.ready.append(self.oversized or children)
            self.oversized = None
            return
        parent_frame = frames[-1]
        self.parser.CharacterDataHandler = parent_frame[2].append
        value: Any = children
        if not children:
            text = "".join(parts)
            if len(text) > MAX_FIELD:
                self.oversized = self.oversized or OversizedField(key)
                text = ""
            value = text.strip() or None
        parent = parent_frame[1]
        if key in parent:
            existing = parent[key]
            if isinstance(existing, list):
                existing.append(value)
            else:
                parent[key] = [existing, value]
        else:
            parent[key] = value


def _refuse(kind: str) -> Any:
    def handler(*_args: Any) -> None:
        raise UnsafeXml(kind)

    return handler


def _parser(builder: _RecordBuilder) -> Any:
    # No namespace processing: DfE files use a default namespace or none; a prefix is dropped.
    parser = expat.ParserCreate()
    builder.parser = parser
    parser.buffer_text = True
    parser.buffer_size = 64 * 1024
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.StartDoctypeDeclHandler = _refuse("DTD")
    parser.EntityDeclHandler = _refuse("entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("entity declaration")
    parser.ExternalEntityRefHandler = _refuse("external entity")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def iter_records(path: Path, record_tag: str) -> Iterator[dict[str, Any] | OversizedField | str]:
    """Each ``record_tag`` element as a dict (or OversizedField); a parse error yields its
    reason as text and ends the file."""
    builder = _RecordBuilder(record_tag)
    parser = _parser(builder)
    seen_bytes = False
    with path.open("rb") as handle:
        try:
            while block := handle.read(BLOCK):
                seen_bytes = seen_bytes or bool(block.strip())
                parser.Parse(block, False)
                yield from builder.ready
                builder.ready.clear()
            if not seen_bytes:
                yield "empty file"
                return
            parser.Parse(b"", True)
            yield from builder.ready
        except expat.ExpatError as exc:
            yield from builder.ready
            reason = expat.errors.messages[exc.code]
            yield f"malformed XML at line {exc.lineno} column {exc.offset} ({reason})"
        except UnsafeXml as exc:
            yield f"unsafe XML refused ({exc}) at line {parser.CurrentLineNumber}"


def xml_records(path: Path, record_tag: str, noun: str) -> Iterator[Extracted]:
    """Each ``record_tag`` element as a dict; a parse error ends the file with one error item.

    Positions read ``<file> <noun> <ordinal>``, so an error names where it happened. A record
    with an over-long field is an error item of its own, and the file goes on.
    """
    ordinal = 0
    for found in iter_records(path, record_tag):
        ordinal += 1
        position = f"{path.name} {noun} {ordinal}"
        if isinstance(found, str):
            yield Extracted(position, error=found)
            return
        if isinstance(found, OversizedField):
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
