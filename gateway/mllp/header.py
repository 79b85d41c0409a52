"""What the listener reads of a message before it answers, and the ACK it answers with.

The listener must answer fast, so it reads only MSH (a plain split on the separator MSH-1
declares, the way ER7 defines it) and checks that the message is one the batch parse can use:
an ADT message of version 2.3 to 2.5 with a control id, a PID segment with PID-3 identifiers,
and MRG-1 on an A40 merge. The full read of the fields the index needs happens later in the
batch (staging, ``connectors/health/hl7v2_adt.py``), where anything else wrong with a message
becomes a held item naming its position.

Reasons given in an ACK never quote the message: they name what is wrong, not what it said.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.health.hl7v2_adt import SUPPORTED_VERSIONS

_SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")
DEFAULT_ENCODING = "^~\\&"
# ACK control ids: this process's id and start time, then a counter (unique, and cheap).
_ACK_PREFIX = f"{os.getpid():x}{int(datetime.now(UTC).timestamp()):x}"
_ACK_NUMBERS = itertools.count(1)


# HL7 table 0357 (message error condition codes) used in the ERR segment of an AE or AR.
SEGMENT_SEQUENCE, REQUIRED_FIELD_MISSING, DATA_TYPE = 100, 101, 102
UNSUPPORTED_TYPE, UNSUPPORTED_VERSION, INTERNAL = 200, 203, 207
_ERROR_TEXT = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    200: "Unsupported message type",
    203: "Unsupported version id",
    207: "Application internal error",
}


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
        text = message.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Refusal("AR", f"not UTF-8 at byte {exc.start}", error=DATA_TYPE) from None
    segments = [s for s in _SEGMENT_SPLIT.split(text.strip()) if s]
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
        raise Refusal("AR", "message does not start with an MSH segment", error=SEGMENT_SEQUENCE)
    msh = segments[0]
    separator, encoding = msh[3], msh[4:8]
    if len(set(separator + encoding)) != 5 or (separator + encoding).isalnum():
        raise Refusal("AR", "bad encoding characters in MSH-1 or MSH-2", error=DATA_TYPE)
    fields = msh.split(separator)
    component = encoding[0]
    message_type = _field(fields, 9).split(component)
    header = Header(
        separator=separator,
        encoding=encoding,
        sending_application=_field(fields, 3),
        sending_facility=_field(fields, 4),
        receiving_application=_field(fields, 5),
        receiving_facility=_field(fields, 6),
        message_type=message_type[0],
        trigger_event=message_type[1] if len(message_type) > 1 else "",
        control_id=_field(fields, 10),
        processing_id=_field(fields, 11).split(component)[0],
        version=_field(fields, 12).split(component)[0],
    )
    _screen(header, segments)
    return header


def _screen(header: Header, segments: list[str]) -> None:
    if not header.control_id:
        raise Refusal("AR", "no message control id (MSH-10)", header, REQUIRED_FIELD_MISSING)
    if header.version not in SUPPORTED_VERSIONS:
        raise Refusal(
            "AR", "HL7 version not supported (2.3 to 2.5 are)", header, UNSUPPORTED_VERSION
        )
    if header.message_type != "ADT":
        raise Refusal("AR", "message type not supported (ADT is)", header, UNSUPPORTED_TYPE)
    pid = _segment(segments, "PID")
    if pid is None:
        raise Refusal("AE", "ADT message without a PID segment", header, SEGMENT_SEQUENCE)
    if not _value(pid, 3, header):
        raise Refusal(
            "AE", "ADT message without PID-3 patient identifiers", header, REQUIRED_FIELD_MISSING
        )
    if header.trigger_event == "A40":
        mrg = _segment(segments, "MRG")
        if mrg is None or not _value(mrg, 1, header):
            raise Refusal(
                "AE",
                "A40 merge without MRG-1 (the retired patient id)",
                header,
                REQUIRED_FIELD_MISSING,
            )


def _segment(segments: list[str], name: str) -> str | None:
    return next((s for s in segments if s[:3] == name), None)


def _value(segment: str, number: int, header: Header) -> str:
    fields = segment.split(header.separator)
    raw = fields[number] if number < len(fields) else ""
    return raw.strip(header.encoding[:2] + header.encoding[3] + " ")


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
    text = _ERROR_TEXT.get(error, "")
    if version.startswith("2.5"):
        return sep.join(("ERR", "", "", encoding[0].join((str(error), text, "HL70357")), "E"))
    sub = encoding[3]
    return sep.join(("ERR", encoding[0] * 3 + sub.join((str(error), text, "HL70357"))))


def _escape(text: str, separator: str, encoding: str) -> str:
    """Our reasons are plain words; drop any delimiter so the ACK always parses."""
    return "".join(c for c in text if c not in separator + encoding)
