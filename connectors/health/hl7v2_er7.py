"""Reading HL7 v2 ER7 text with the message's own encoding characters: fields, escapes.

A field becomes its repetitions, each a list of components (text). This is hl7apy's parse
(``parse_field`` in tolerant mode, read back by ``to_er7``) in canonical form, without building
hl7apy's element tree for every value:

- each separator is the one MSH-1 and MSH-2 declare, as in hl7apy;
- a component or subcomponent that is empty or only whitespace is empty (hl7apy drops it);
  trailing empty components and subcomponents are dropped (hl7apy's ``to_er7`` does);
- a component's subcomponents are joined with ``&`` whatever the message's own subcomponent
  separator is, so readers of the record split on one character (a decoded ``\\T\\`` in a
  component that has subcomponents then reads as a split; the mapping splits only PID-3's
  assigning authority);
- escape sequences are decoded (``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\Xhh..\\``; highlighting and
  character-set switches are dropped, ``\\.br\\`` is a line break). hl7apy has no decoder: it
  keeps the escaped text as it arrived.

Two things hl7apy does that this does not, on purpose: it turns a number-typed component into a
Decimal (``00123`` comes back ``123``: an identifier loses its zeros), and it moves a component
past the last one its datatype defines to just after that one (a position is lost). Here each
value keeps its text and its position. ``tests/test_hl7_er7.py`` checks the rest against
hl7apy's full parse of generated messages, and the decoder against hl7apy's encoder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

SUBCOMPONENT_JOIN = "&"


@dataclass(frozen=True)
class Encoding:
    """The delimiters a message declares in MSH-1 (field) and MSH-2 (the other four)."""

    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str

    @property
    def delimiters(self) -> str:
        """The four characters that split a field, and the escape character."""
        return self.component + self.repetition + self.escape + self.subcomponent

    @classmethod
    def of(cls, msh: str) -> Encoding:
        """The encoding of an MSH segment's text; ValueError if MSH-1 or MSH-2 is unusable."""
        if len(msh) < 8:
            raise ValueError("MSH too short for its encoding characters")
        separator, chars = msh[3], msh[4:8]
        if len(set(chars + separator)) != 5 or chars.isalnum():
            raise ValueError("bad encoding characters in MSH-2")
        if not all(c.isprintable() and not c.isspace() for c in separator + chars):
            raise ValueError("a control character or space as a delimiter")  # unusable in an ACK
        return _encoding(separator, chars)

    def hl7apy_chars(self) -> dict[str, str]:
        """The same delimiters as hl7apy's ``encoding_chars`` dict."""
        return {
            "FIELD": self.field,
            "COMPONENT": self.component,
            "REPETITION": self.repetition,
            "ESCAPE": self.escape,
            "SUBCOMPONENT": self.subcomponent,
            "GROUP": "\r",
            "SEGMENT": "\r",
        }


@lru_cache(maxsize=64)
def _encoding(separator: str, chars: str) -> Encoding:
    return Encoding(separator, chars[0], chars[1], chars[2], chars[3])


def read_field(text: str, encoding: Encoding) -> list[list[str]]:
    """A field's repetitions, each a list of components; ``[]`` if every one is empty."""
    if not (
        encoding.component in text
        or encoding.repetition in text
        or encoding.escape in text
        or encoding.subcomponent in text
    ):  # one plain value (a date, a code, a control id): most fields
        return [] if text.isspace() else [[text]]
    reps = [_components(rep, encoding) for rep in text.split(encoding.repetition)]
    return reps if any(reps) else []


def _components(text: str, encoding: Encoding) -> list[str]:
    components = text.split(encoding.component)
    for i, value in enumerate(components):
        if not value:
            continue
        if encoding.subcomponent in value:
            components[i] = _subcomponents(value, encoding)
        elif encoding.escape in value:
            components[i] = _leaf(value, encoding)
        elif value.isspace():
            components[i] = ""
    while components and not components[-1]:
        components.pop()
    return components


def _subcomponents(text: str, encoding: Encoding) -> str:
    parts = [_leaf(part, encoding) for part in text.split(encoding.subcomponent)]
    while parts and not parts[-1]:
        parts.pop()
    return SUBCOMPONENT_JOIN.join(parts)


def _leaf(text: str, encoding: Encoding) -> str:
    if not text or text.isspace():
        return ""
    if encoding.escape in text:
        return unescape(text, encoding)
    return text


def unescape(text: str, encoding: Encoding) -> str:
    """Decode the escape sequences of one value (HL7 v2.5 section 2.7).

    A sequence that is not one of the standard's, or has no closing escape character, stays
    as it is: the value is kept rather than guessed at.
    """
    if encoding.escape not in text:
        return text
    delimiters = {
        "F": encoding.field,
        "S": encoding.component,
        "T": encoding.subcomponent,
        "R": encoding.repetition,
        "E": encoding.escape,
    }

    def decode(match: re.Match[str]) -> str:
        body = match.group(1)
        if body in delimiters:
            return delimiters[body]
        if body in ("H", "N") or (body[:1] in ("C", "M") and _is_hex(body[1:])):
            return ""  # highlighting on/off, character set switches: no text of their own
        if body[:1] == "X" and _is_hex(body[1:]) and len(body) % 2 == 1:
            return _hex_text(body[1:])
        if body in (".br", ".sp"):
            return "\n"
        return match.group(0)

    return _sequence(encoding.escape).sub(decode, text)


@lru_cache(maxsize=16)
def _sequence(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(f"{e}([^{e}]+){e}")


def _is_hex(digits: str) -> bool:
    return bool(digits) and all(c in "0123456789abcdefABCDEF" for c in digits)


def _hex_text(digits: str) -> str:
    data = bytes.fromhex(digits)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")
