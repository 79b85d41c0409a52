"""HL7 v2 ADT messages (versions 2.3 to 2.8, NHS ITK conventions) from a drop folder.

A file holds messages one after another (segments split by CR, LF or CRLF; a byte order mark
before any of them is dropped, a UTF-16 file is read as such), or MLLP frames as the MLLP
listener's message store writes them. Which messages are taken is ``hl7v2_accept.accept``, the
same rule the MLLP listener applies: anything else is a rejected item with its reason. Each
message taken becomes a dict keyed by field: ``"PID-3"`` holds the repetitions of PID-3, each a
list of components (text, escape sequences decoded; see ``hl7v2_er7``), and ``event_class``
says what kind of event its trigger is (``contact``, ``update``, ``cancel``, ``merge``,
``move``, ``link``, ``unlink``). MRG-1 is kept only on a merge that retires a record.

A merge or move whose message structure repeats the patient group (A39-A44, A47: ``{PID,
[PD1], MRG, [PV1]}`` as often as there are patients) gives one item per group, each read with
the message's MSH and EVN: a group that lacks PID-3 or MRG-1 is a rejected item of its own,
and a message refused whole is one rejected item per group, so every patient it names is
accounted for. Such items carry ``patient_group`` (1, 2, ...), part of the stream's key.
``count_messages`` counts the same items from MSH and PID segments without the reader, for
the records-counted gate.

Speed: hl7apy's ``parse_message`` builds the whole message tree (every segment, field,
component and subcomponent as objects, ~100-200 messages a second here), and even its
``parse_field`` on the dozen fields the index needs manages ~500. The index needs text, so
the needed fields are read from the ER7 with the message's own encoding characters
(``hl7v2_er7.read_field``), which gives what hl7apy's parse gives for them (property-tested
against hl7apy's full parse in ``tests/test_hl7_er7.py``) at tens of thousands a second.
Segments nobody reads (NK1, AL1, OBX, ITK's ZU segments...) are never split.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import Extracted, FileDropConnector, Stream
from connectors.health.hl7v2_accept import (
    REPEATING_GROUP_EVENTS,
    SUPPORTED_VERSIONS,
    UTF16_BOMS,
    AdtEvent,
    EventClass,
    NotAccepted,
    accept,
    check_patient_group,
    decode,
    segments_of,
    trigger_of,
)
from connectors.health.hl7v2_er7 import Encoding, read_field

__all__ = [
    "SUPPORTED_VERSIONS",
    "Hl7AdtConnector",
    "count_messages",
    "parse_adt",
    "patient_groups",
    "read_message",
    "segments_of",
    "split_messages",
]

# Each field: its repetitions, each a list of components (text).
_FIELD = {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}
SCHEMA = {
    "type": "object",
    "required": ["MSH-9", "MSH-10", "PID-3", "version", "event_class"],
    "properties": {
        "version": {"enum": list(SUPPORTED_VERSIONS)},
        "event_class": {"enum": [str(c) for c in EventClass]},
        "patient_group": {"type": "integer", "minimum": 1},
    },
    "patternProperties": {"^[A-Z][A-Z0-9]{2}-[0-9]+$": _FIELD},
    "additionalProperties": False,
}
# The fields the index needs, by segment; the first occurrence of a segment wins.
NEEDED_FIELDS: dict[str, tuple[int, ...]] = {
    "MSH": (7, 9, 10, 12),
    "EVN": (1, 2, 6),  # 6: when the event occurred (a contact's day, where it is one)
    "PID": (3, 5, 7, 8, 11, 13),  # 13: checked for form only (the index keeps no phones)
    "PD1": (3,),
    "MRG": (1,),
    "PV1": (44, 45),  # admit and discharge date/time (a contact's day)
}
MLLP_START, MLLP_END = b"\x0b", b"\x1c\r"
# A message starts at MSH and its field separator (``|`` nearly always; any other punctuation
# mark the sender declares in MSH-1), after a byte order mark if one was left before it.
_MESSAGE_START = re.compile(rb"(?:^|[\r\n])(?:\xef\xbb\xbf)?(?=MSH[^A-Za-z0-9\s])")


class Hl7AdtConnector(FileDropConnector):
    source = "health__hl7v2_adt"
    agency = "health"
    schedule = "*/15 * * * *"
    inbox_folder = "health/adt"
    stale_after_hours = 6.0
    description = "HL7 v2 ADT messages (A01-A62) from hospital and community patient systems"
    patterns = ("*.hl7", "*.HL7", "*.txt")
    stream = Stream(
        "adt_messages",
        primary_key=("MSH-10", "patient_group"),
        bookmark_field="MSH-7",
        schema=SCHEMA,
    )

    def count_records(self, path: Path) -> int | None:
        return count_messages(path.read_bytes())

    def parse(self, path: Path) -> Iterator[Extracted]:
        chunks = split_messages(path.read_bytes())
        if not chunks:
            yield Extracted(path.name, error="no HL7 message in file")
            return
        for number, chunk in enumerate(chunks, start=1):
            yield from read_message(chunk, f"{path.name} message {number}")


def split_messages(data: bytes) -> list[bytes]:
    """The messages in a file: MLLP frames if it starts with one, else split at each MSH.

    A UTF-16 file (it starts with its byte order mark) is read as UTF-8 from here on.
    """
    if data.startswith(UTF16_BOMS):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return [data]  # one item, refused with the byte where UTF-16 fails
    if data.startswith(MLLP_START):
        frames = data.split(MLLP_END)
        return [f.removeprefix(MLLP_START) for f in frames if f.strip(b"\r\n ")]
    return [c for c in _MESSAGE_START.split(data) if c.strip(b"\r\n\xef\xbb\xbf ")]


def parse_adt(chunk: bytes, position: str) -> Extracted:
    """One ER7 message of one patient as a dict of the fields the index needs, or why it is
    not taken (a message of several patient groups: ``read_message``)."""
    return read_message(chunk, position)[0]


def read_message(chunk: bytes, position: str) -> list[Extracted]:
    """One ER7 message as items: one per patient group (see the module's docstring)."""
    try:
        segments = segments_of(decode(chunk))
        event = accept(segments)
    except NotAccepted as refusal:  # the reason never quotes the message
        return _refused(chunk, position, refusal)
    groups = patient_groups(segments, event.trigger_event)
    if len(groups) == 1:
        return [_item(segments, event, position, 1)]  # group 1: every key part present
    items = []
    for number, group in enumerate(groups, start=1):
        where = f"{position} patient group {number}"
        try:
            check_patient_group(group, event)
        except NotAccepted as refusal:
            items.append(Extracted(where, error=f"patient group {number}: {refusal.reason}"))
            continue
        items.append(_item(group, event, where, number))
    return items


def patient_groups(segments: list[str], trigger: str) -> list[list[str]]:
    """A message's segments as patient groups, each with the segments before the first PID
    (MSH, EVN): one per PID where the trigger repeats the group, else the message whole."""
    starts = [n for n, s in enumerate(segments) if s[:3] == "PID" and not s[3:4].isalnum()]
    if trigger not in REPEATING_GROUP_EVENTS or len(starts) < 2:
        return [segments]
    header = segments[: starts[0]]
    ends = [*starts[1:], len(segments)]
    return [header + segments[start:end] for start, end in zip(starts, ends, strict=True)]


def _item(segments: list[str], event: AdtEvent, position: str, group: int) -> Extracted:
    record = read_fields(segments, event.encoding)
    if not event.retires_a_record:
        record.pop("MRG-1", None)  # an account, visit or move: no record of this patient retires
    record["event_class"] = event.event_class.value
    record["patient_group"] = group
    return Extracted(position, record=record)


def _refused(chunk: bytes, position: str, refusal: NotAccepted) -> list[Extracted]:
    """A refused message: one rejected item, or one per patient group it carries (the first
    holds the message, the others say where it is kept)."""
    text = _raw(chunk)
    groups = patient_groups(segments_of(text), trigger_of(segments_of(text)))
    if len(groups) == 1:
        return [Extracted(position, error=refusal.reason, raw=text)]
    first = f"{position} patient group 1"
    return [Extracted(first, error=refusal.reason, raw=text)] + [
        Extracted(
            f"{position} patient group {number}",
            error=f"{refusal.reason} (the message is kept with {first})",
        )
        for number in range(2, len(groups) + 1)
    ]


def _raw(chunk: bytes) -> str:
    try:
        return decode(chunk)
    except NotAccepted:
        return chunk.decode("latin-1")


def read_fields(segments: list[str], encoding: Encoding | None = None) -> dict[str, Any]:
    """The needed fields of a message's segments, read with the message's encoding characters
    (``encoding``, where the caller has read them already).

    The first segment of each name wins; a field that is absent or empty is left out.
    """
    encoding = encoding or Encoding.of(segments[0])
    msh = segments[0].split(encoding.field)
    version = msh[11].split(encoding.component)[0] if len(msh) > 11 else ""
    record: dict[str, Any] = {"version": version}
    if version not in SUPPORTED_VERSIONS:
        return record
    seen: set[str] = set()
    for segment in segments:
        name = segment[:3]
        numbers = NEEDED_FIELDS.get(name)
        if numbers is None or name in seen or segment[3:4] not in ("", encoding.field):
            continue
        seen.add(name)
        values = segment.split(encoding.field)
        offset = 1 if name == "MSH" else 0  # MSH-1 is the separator itself
        for number in numbers:
            index = number - offset
            if index < len(values) and values[index]:
                field = read_field(values[index], encoding)
                if field:
                    record[f"{name}-{number}"] = field
    return record


# -- counting record starts without the reader ----------------------------------------------

# An MSH segment starts a message: at the file's start, a line's, or after an MLLP start block
# (a byte order mark may come first). Found by its literal name, then its place checked: a
# pattern that starts with an alternative is tried at every byte, ten times slower.
_COUNTED_MSH = re.compile(rb"MSH[^A-Za-z0-9\s]")
_UTF8_BOM = b"\xef\xbb\xbf"
_COUNTED_LINE = re.compile(r"[^\r\n]+")


def count_messages(data: bytes) -> int:
    """The items a file of HL7 messages holds, counted from its MSH segments, not by the
    reader: one per MSH segment, one for anything before the first, and in a message whose
    trigger repeats the patient group (A39-A44, A47), one per PID segment (a patient group).
    0 for a file with no MSH and no text (or a UTF-16 file that does not decode)."""
    if data.startswith(UTF16_BOMS):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return 0
    starts = [m.start() for m in _COUNTED_MSH.finditer(data) if _starts_a_line(data, m.start())]
    before = data[: starts[0]] if starts else data
    count = 1 if before.strip(b"\r\n\x0b\x1c\xef\xbb\xbf ") else 0
    for start, end in zip(starts, [*starts[1:], len(data)], strict=False):
        count += _groups_counted(data[start:end])
    return count


def _starts_a_line(data: bytes, at: int) -> bool:
    if data[at - 3 : at] == _UTF8_BOM:
        at -= 3
    return at == 0 or data[at - 1 : at] in (b"\r", b"\n", b"\x0b")


def _text(message: bytes) -> str:
    try:
        return message.decode("utf-8-sig")
    except UnicodeDecodeError:
        return message.decode("latin-1")


def _groups_counted(message: bytes) -> int:
    first_line = min(
        (at for at in (message.find(b"\r"), message.find(b"\n")) if at >= 0), default=-1
    )
    head = _text(message[:first_line] if first_line >= 0 else message)
    # MSH-9.2 from the first line; only where it is empty is the message read for EVN-1
    trigger = trigger_of([head.strip()]) or trigger_of(_lines(_text(message)))
    if trigger not in REPEATING_GROUP_EVENTS:
        return 1
    pids = sum(1 for s in _lines(_text(message)) if s[:3] == "PID" and not s[3:4].isalnum())
    return max(pids, 1)


def _lines(text: str) -> list[str]:
    return [line for line in (s.strip() for s in _COUNTED_LINE.findall(text)) if line]
