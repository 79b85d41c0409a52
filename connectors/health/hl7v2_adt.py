"""HL7 v2 ADT messages (versions 2.3 to 2.5, NHS ITK conventions) from a drop folder.

A file holds messages one after another (segments split by CR, LF or CRLF), or MLLP frames as
the MLLP listener's message store writes them. Each message becomes a dict keyed by field:
``"PID-3"`` holds the repetitions of PID-3, each a list of components.

Speed: hl7apy's ``parse_message`` builds the whole message tree (every segment, field and
component, ~60 messages a second here). The index needs a dozen fields, so only those are
parsed, each with hl7apy's ``parse_field`` under the message's own version and encoding
characters (tolerant mode: the NHS ITK examples fail strict validation on the phone field, as
real feeds do). Segments nobody reads (NK1, AL1, OBX, ITK's ZU segments...) are never parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_field

from connectors.base import Extracted, FileDropConnector, Stream

# Each field: its repetitions, each a list of components (text).
_FIELD = {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}
SCHEMA = {
    "type": "object",
    "required": ["MSH-9", "MSH-10", "PID-3", "version"],
    "properties": {"version": {"type": "string", "pattern": "^2\\.[3-5](\\.[0-9])?$"}},
    "patternProperties": {"^[A-Z][A-Z0-9]{2}-[0-9]+$": _FIELD},
    "additionalProperties": False,
}
# The fields the index needs, by segment; the first occurrence of a segment wins.
NEEDED_FIELDS: dict[str, tuple[int, ...]] = {
    "MSH": (7, 9, 10, 12),
    "EVN": (1, 2),
    "PID": (3, 5, 7, 8, 11, 13),  # 13: checked for form only (the index keeps no phones)
    "PD1": (3,),
    "MRG": (1,),
}
SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
MLLP_START, MLLP_END = b"\x0b", b"\x1c\r"
_MESSAGE_START = re.compile(rb"(?:^|[\r\n])(?=MSH\|)")
_PARSE_ERRORS = (HL7apyException, ValueError, IndexError, KeyError, AttributeError, TypeError)


class Hl7AdtConnector(FileDropConnector):
    source = "health__hl7v2_adt"
    agency = "health"
    description = "HL7 v2 ADT messages (A01-A40) from hospital and community patient systems"
    patterns = ("*.hl7", "*.HL7", "*.txt")
    stream = Stream("adt_messages", primary_key=("MSH-10",), bookmark_field="MSH-7", schema=SCHEMA)

    def parse(self, path: Path) -> Iterator[Extracted]:
        chunks = split_messages(path.read_bytes())
        if not chunks:
            yield Extracted(path.name, error="no HL7 message in file")
            return
        for number, chunk in enumerate(chunks, start=1):
            yield parse_adt(chunk, f"{path.name} message {number}")


def split_messages(data: bytes) -> list[bytes]:
    """The messages in a file: MLLP frames if it starts with one, else split at each MSH."""
    if data.startswith(MLLP_START):
        frames = data.split(MLLP_END)
        return [f.removeprefix(MLLP_START) for f in frames if f.strip(b"\r\n ")]
    return [c for c in _MESSAGE_START.split(data) if c.strip(b"\r\n\ufeff\xef\xbb\xbf ")]


def parse_adt(chunk: bytes, position: str) -> Extracted:
    """One ER7 message as a dict of the fields the index needs, or why it cannot be read."""
    try:
        text = chunk.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Extracted(
            position, error=f"not UTF-8 at byte {exc.start}", raw=chunk.decode("latin-1")
        )
    segments = [s for s in re.split(r"\r\n|\r|\n", text.strip()) if s.strip()]
    if not segments or not segments[0].startswith("MSH|") or len(segments[0]) < 8:
        return Extracted(position, error="message does not start with an MSH segment", raw=text)
    try:
        record = read_fields(segments)
    except _PARSE_ERRORS as exc:
        # hl7apy's messages can quote the message text: keep only the kind of failure.
        return Extracted(position, error=f"unparseable HL7 ({type(exc).__name__})", raw=text)
    except RecursionError:
        return Extracted(position, error="unparseable HL7 (nested too deep)", raw=text)
    problem = _missing(record)
    if problem:
        return Extracted(position, error=problem, raw=text)
    return Extracted(position, record=record)


def _missing(record: dict[str, Any]) -> str | None:
    if record["version"] not in SUPPORTED_VERSIONS:
        return "HL7 version not supported (2.3 to 2.5 are)"
    if not record.get("PID-3"):
        return "ADT message without PID-3 patient identifiers"
    if not record.get("MSH-10"):
        return "ADT message without a control id (MSH-10)"
    return None


def encoding_of(msh: str) -> tuple[str, dict[str, str]]:
    """The field separator and hl7apy's encoding characters, as MSH-1 and MSH-2 declare them."""
    separator = msh[3]
    chars = msh[4:8]
    if len(set(chars + separator)) != 5 or chars.isalnum():
        raise ValueError("bad encoding characters in MSH-2")
    return separator, {
        "FIELD": separator,
        "COMPONENT": chars[0],
        "REPETITION": chars[1],
        "ESCAPE": chars[2],
        "SUBCOMPONENT": chars[3],
        "GROUP": "\r",
        "SEGMENT": "\r",
    }


def read_fields(segments: list[str]) -> dict[str, Any]:
    """The needed fields of a message's segments, each parsed by hl7apy as its version says."""
    separator, chars = encoding_of(segments[0])
    msh = segments[0].split(separator)
    version = msh[11].split(chars["COMPONENT"])[0] if len(msh) > 11 else ""
    record: dict[str, Any] = {"version": version}
    if version not in SUPPORTED_VERSIONS:
        return record
    seen: set[str] = set()
    for segment in segments:
        name = segment[:3]
        if name not in NEEDED_FIELDS or name in seen:
            continue
        seen.add(name)
        values = segment.split(separator)
        offset = 1 if name == "MSH" else 0  # MSH-1 is the separator itself
        for number in NEEDED_FIELDS[name]:
            index = number - offset
            if index < len(values) and values[index]:
                record[f"{name}-{number}"] = _field(
                    values[index], f"{name}_{number}", version, chars
                )
    return record


def _field(text: str, name: str, version: str, chars: dict[str, str]) -> list[list[str]]:
    """Each repetition parsed by hl7apy as ``parse_fields`` does, as its list of components.

    A value with no encoding character in it is a single plain component, which is what
    hl7apy returns for it in tolerant mode: it is taken as it is. Values with structure are
    parsed by hl7apy, once per distinct value (a feed repeats practices, message types,
    versions and the same patient's identifiers, message after message).
    """
    if not any(c in text for c in _structure(chars)):
        return [[text]]
    return [list(rep) for rep in _parse_cached(text, name, version, _key(chars))]


def _structure(chars: dict[str, str]) -> str:
    return chars["COMPONENT"] + chars["REPETITION"] + chars["ESCAPE"] + chars["SUBCOMPONENT"]


def _key(chars: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(chars.items()))


@lru_cache(maxsize=1 << 16)
def _parse_cached(
    text: str, name: str, version: str, chars_key: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, ...], ...]:
    chars = dict(chars_key)
    reps = []
    for rep in text.split(chars["REPETITION"]):
        field = parse_field(
            rep,
            name=name,
            version=version,
            encoding_chars=chars,
            validation_level=VALIDATION_LEVEL.TOLERANT,
        )
        reps.append(tuple(field.to_er7().split(chars["COMPONENT"])))
    return tuple(reps)
