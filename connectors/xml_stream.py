"""Streaming, hardened XML reading shared by the XML connectors (CTF, CIN census).

defusedxml refuses DTDs, entity declarations and external references, so billion-laughs and
XXE payloads fail with a clear error instead of expanding. Elements are cleared once read, so
memory stays flat as files grow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from connectors.base import Extracted


def local(tag: str) -> str:
    """A tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def iter_elements(path: Path, record_tag: str) -> Iterator[tuple[int, Element | None, str | None]]:
    """Yield (ordinal, element, None) per record element, or (ordinal, None, error) and stop."""
    ordinal = 0
    try:
        for _event, element in iterparse(str(path), events=("end",), forbid_dtd=True):
            if local(element.tag) != record_tag:
                continue
            ordinal += 1
            yield ordinal, element, None
            element.clear()
    except ParseError as exc:
        line, column = exc.position
        yield ordinal + 1, None, f"malformed XML at line {line} column {column}"
    except DefusedXmlException as exc:
        yield ordinal + 1, None, f"unsafe XML refused ({type(exc).__name__})"


def xml_records(path: Path, record_tag: str, noun: str) -> Iterator[Extracted]:
    """Each ``record_tag`` element as a dict; a parse error ends the file with one error item.

    Positions read ``<file> <noun> <ordinal>``, so an error names where it happened.
    """
    for ordinal, element, error in iter_elements(path, record_tag):
        position = f"{path.name} {noun} {ordinal}"
        if element is None:
            yield Extracted(position, error=error or f"unreadable {noun}")
            return
        yield Extracted(position, record=to_dict(element))


def as_list_of_dicts(value: Any) -> list[dict[str, Any]]:
    """A repeated element's dicts: one element comes as a dict, several as a list."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def text(element: Element | None, path: str) -> str | None:
    """Stripped text of the first descendant at ``path`` (namespace-free), or None."""
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def to_dict(element: Element) -> dict[str, Any]:
    """An element as nested dicts: repeated children become lists, leaves become text."""
    result: dict[str, Any] = {}
    for child in element:
        key = local(child.tag)
        value: Any = to_dict(child) if len(child) else (child.text or "").strip() or None
        if key in result:
            existing = result[key]
            result[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            result[key] = value
    return result
