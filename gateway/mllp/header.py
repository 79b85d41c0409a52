"""What the listener reads of a message before it answers, and the ACK it answers with.

The listener must answer fast, so it reads only MSH (a plain split on the separator MSH-1
declares, the way ER7 defines it) for the ACK, and asks the one acceptance rule the file
connector asks too (``connectors.health.hl7v2_accept.accept``: an ADT message of version 2.3
to 2.8 with a known patient trigger event, a control id, PID-3, and MRG-1 on a merge). The full
read of the fields the index needs happens later in the batch (staging,
``connectors/health/hl7v2_adt.py``), where anything else wrong with a message becomes a held
item naming its position.

Reasons given in an ACK never quote the message: they name what is wrong, not what it said.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.health.hl7v2_accept import (
    DATA_TYPE,
    DUPLICATE_KEY,
    ERROR_TEXT,
    INTERNAL,
    REQUIRED_FIELD_MISSING,
    SEGMENT_SEQUENCE,
    SUPPORTED_VERSIONS,
    UNSUPPORTED_EVENT,
    UNSUPPORTED_TYPE,
    UNSUPPORTED_VERSION,
    NotAccepted,
    accept,
    decode,
    msh_encoding,
    segments_of,
)

__all__ = [
    "DATA_TYPE",
    "DUPLICATE_KEY",
    "INTERNAL",
    "REQUIRED_FIELD_MISSING",
    "SEGMENT_SEQUENCE",
    "UNSUPPORTED_EVENT",
    "UNSUPPORTED_TYPE",
    "UNSUPPORTED_VERSION",
    "Header",
    "Refusal",
    "acknowledgement",
    "read_header",
]

DEFAULT_ENCODING = "^~\\&"
# ACK control ids: this process's id and start time, then a counter (unique, and cheap).
_ACK_PREFIX = f"{os.getpid():x}{int(datetime.now(UTC).timestamp()):x}"
_ACK_NUMBERS = itertools.count(1)
# Versions whose ERR segment has only ERR-1 (error code and location); later ones use ERR-3.
_ERR_1_VERSIONS = ("2.3", "2.3.1", "2.4")


class Refusal(Exception):
    """A message the listener will not store: ``code`` is AR or AE, ``reason`` says why and
    ``error`` is the HL7 table 0357 condition code."""

    def __init__(
        self, code: str, reason: str, header: Header | None = None, error: int = INTERNAL
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.header = header
        self.error = error


@dataclass(frozen=True)
class Header:
    """The MSH fields an acknowledgement needs, and the message's segments."""

    separator: str
    encoding: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_type: str
    trigger_event: str
    control_id: str
    processing_id: str
    version: str

    @property
    def key(self) -> tuple[str, str, str]:
        """Who sent it and its control id: a message sent twice has the same key."""
        return (self.sending_application, self.sending_facility, self.control_id)


def _field(fields: list[str], number: int) -> str:
    """MSH-n (MSH-1 is the separator itself, so MSH-n is item n-1 of the split)."""
    return fields[number - 1] if number - 1 < len(fields) else ""


def read_header(message: bytes) -> Header:
    """Read MSH and screen the message; raise Refusal (AR or AE, with the reason) if unusable."""
    try:
        segments = segments_of(decode(message))
    except NotAccepted as refusal:
        raise Refusal(refusal.code, refusal.reason, None, refusal.condition) from None
    header = _header(segments)
    try:
        event = accept(segments)
    except NotAccepted as refusal:
        raise Refusal(refusal.code, refusal.reason, header, refusal.condition) from None
    assert header is not None  # accept took its MSH
    if event.trigger_event != header.trigger_event:  # a v2.3 sender's trigger, from EVN-1
        header = dataclasses.replace(header, trigger_event=event.trigger_event)
    return header


def _header(segments: list[str]) -> Header | None:
    """The MSH fields an ACK answers with, or None if there is no usable MSH."""
    if not segments:
        return None
    try:
        encoding = msh_encoding(segments[0])
    except NotAccepted:
        return None
    fields = segments[0].split(encoding.field)
    message_type = _field(fields, 9).split(encoding.component)
    return Header(
        separator=encoding.field,
        encoding=segments[0][4:8],
        sending_application=_field(fields, 3),
        sending_facility=_field(fields, 4),
        receiving_application=_field(fields, 5),
        receiving_facility=_field(fields, 6),
        message_type=message_type[0],
        trigger_event=message_type[1] if len(message_type) > 1 else "",
        control_id=_field(fields, 10),
        processing_id=_field(fields, 11).split(encoding.component)[0],
        version=_field(fields, 12).split(encoding.component)[0],
    )


def acknowledgement(
    header: Header | None, code: str, reason: str = "", error: int | None = None
) -> bytes:
    """An original-mode ACK: MSH answering the sender, MSA with the code and its control id,
    and for an AE or AR, ERR with the HL7 error condition code."""
    h = header
    sep = h.separator if h else "|"
    encoding = h.encoding if h else DEFAULT_ENCODING
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    msh = [
        "MSH",
        encoding,
        h.receiving_application if h else "EHEGW",
        h.receiving_facility if h else "",
        h.sending_application if h else "",
        h.sending_facility if h else "",
        now,
        "",
        encoding[0].join(("ACK", h.trigger_event if h else "", "ACK")),
        f"{_ACK_PREFIX}{next(_ACK_NUMBERS)}",
        (h.processing_id if h else "") or "P",
        (h.version if h and h.version in SUPPORTED_VERSIONS else "2.4"),
    ]
    msa = ["MSA", code, h.control_id if h else ""]
    if reason:
        msa.append(_escape(reason, sep, encoding))
    segments = [sep.join(msh), sep.join(msa)]
    if error is not None:
        segments.append(_err(error, msh[-1], sep, encoding))
    return ("\r".join(segments) + "\r").encode("utf-8")


def _err(error: int, version: str, sep: str, encoding: str) -> str:
    """ERR as the version defines it: ERR-1 (ELD) up to 2.4, ERR-3 and ERR-4 from 2.5."""
    text = ERROR_TEXT.get(error, "")
    if version not in _ERR_1_VERSIONS:
        return sep.join(("ERR", "", "", encoding[0].join((str(error), text, "HL70357")), "E"))
    sub = encoding[3]
    return sep.join(("ERR", encoding[0] * 3 + sub.join((str(error), text, "HL70357"))))


def _escape(text: str, separator: str, encoding: str) -> str:
    """Our reasons are plain words; drop any delimiter so the ACK always parses."""
    return "".join(c for c in text if c not in separator + encoding)
