"""HL7 v2 ADT messages (versions 2.3 to 2.5, NHS ITK conventions) from a drop folder.

Messages are parsed with hl7apy in tolerant mode (the NHS ITK examples fail strict validation
on the phone field, as real feeds do). Each message becomes a dict keyed by field: ``"PID-3"``
holds the repetitions of PID-3, each a list of components. The mapping picks what it needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

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
# Segments the index needs; the rest (NK1, AL1, OBX...) never leave the connector.
KEPT_SEGMENTS = ("MSH", "EVN", "PID", "PD1", "PV1", "MRG")
_MESSAGE_START = re.compile(rb"(?:^|[\r\n])(?=MSH\|)")


class Hl7AdtConnector(FileDropConnector):
    source = "health__hl7v2_adt"
    agency = "health"
    description = "HL7 v2 ADT messages (A01-A40) from hospital and community patient systems"
    patterns = ("*.hl7", "*.HL7", "*.txt")
    stream = Stream("adt_messages", primary_key=("MSH-10",), bookmark_field="MSH-7", schema=SCHEMA)

    def parse(self, path: Path) -> Iterator[Extracted]:
        data = path.read_bytes()
        chunks = [c for c in _MESSAGE_START.split(data) if c.strip(b"\r\n\ufeff\xef\xbb\xbf ")]
        if not chunks:
            yield Extracted(path.name, error="no HL7 message in file")
            return
        for number, chunk in enumerate(chunks, start=1):
            yield parse_adt(chunk, f"{path.name} message {number}")


def parse_adt(chunk: bytes, position: str) -> Extracted:
    """One ER7 message as a dict of fields, or why it cannot be read."""
    try:
        text = chunk.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Extracted(
            position, error=f"not UTF-8 at byte {exc.start}", raw=chunk.decode("latin-1")
        )
    segments = [s for s in re.split(r"\r\n|\r|\n", text.strip()) if s.strip()]
    if not segments or not segments[0].startswith("MSH|"):
        return Extracted(position, error="message does not start with MSH", raw=text)
    try:
        message = parse_message(
            "\r".join(segments), validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False
        )
    except (HL7apyException, ValueError, IndexError, KeyError, AttributeError) as exc:
        # hl7apy's messages can quote the message text: keep only the kind of failure.
        return Extracted(position, error=f"unparseable HL7 ({type(exc).__name__})", raw=text)
    record = _fields(message)
    if not record.get("PID-3"):
        return Extracted(position, error="ADT message without PID-3 patient identifiers", raw=text)
    if not record.get("MSH-10"):
        return Extracted(position, error="ADT message without a control id (MSH-10)", raw=text)
    record["version"] = message.version
    return Extracted(position, record=record)


def _fields(message: Any) -> dict[str, Any]:
    chars = message.encoding_chars
    record: dict[str, Any] = {}
    for segment in message.children:
        if segment.name not in KEPT_SEGMENTS:
            continue
        for field in segment.children:
            if field.name is None:  # a field past the version's definition
                continue
            key = field.name.replace("_", "-")
            if key in record or key in ("MSH-1", "MSH-2"):
                continue  # first occurrence of a segment wins
            record[key] = [
                rep.split(chars["COMPONENT"]) for rep in field.to_er7().split(chars["REPETITION"])
            ]
    return record
