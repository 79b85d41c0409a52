"""Which HL7 v2 messages the gateway takes, and what kind of event each ADT trigger is.

One rule for both ways in: the drop-folder connector (``hl7v2_adt``) and the MLLP listener
(``gateway.mllp.header``) call ``accept`` on a message's segments and get either the accepted
message's event, or ``NotAccepted`` with the ACK code (AR: the message is not one we take; AE:
it is, but something it must carry is missing), the HL7 table 0357 condition code and a reason
that names what is wrong without quoting the message.

Versions: every version from 2.3 to 2.8 that hl7apy (the parser the ER7 reader is held to)
knows: 2.3, 2.3.1, 2.4, 2.5, 2.5.1, 2.6, 2.7, 2.8, 2.8.1, 2.8.2 (hl7apy has no 2.7.1).

Trigger events (HL7 table 0003, A01-A62) are classified by what they say about the patient:

- ``contact``: a real event with the patient (admitted, transferred, discharged, arrived,
  registered for a visit, left on or came back from leave, moved for tracking);
- ``update``: administrative knowledge without an event with the patient (pre-admission,
  pending events, demographic updates, person records added or updated, changed numbers,
  doctors or allergy records);
- ``cancel``: withdraws an earlier event or record (cancel admit, cancel discharge, delete);
- ``merge``: two records become one (A18, A30, A34-A36, A39-A42, A46, A47); where the patient
  identifiers merge, the record named in MRG-1 is retired into the PID's record;
- ``move``: an account, visit or identifier moves from one patient to another (A43-A45);
- ``link`` (A24) and ``unlink`` (A37): two patients' records are said to be, or no longer be,
  the same person, each in its own PID segment.

A19 (a patient query, sent as QRY) and A20 (a bed status update, NPU, no patient) are event
codes in the table but not notifications about a patient: they are refused.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from connectors.health.hl7v2_er7 import Encoding, read_field
from gateway.errors import BadRecordError

# HL7 table 0357 (message error condition codes), as the ERR segment of an AE or AR carries them.
SEGMENT_SEQUENCE, REQUIRED_FIELD_MISSING, DATA_TYPE = 100, 101, 102
UNSUPPORTED_TYPE, UNSUPPORTED_EVENT, UNSUPPORTED_VERSION = 200, 201, 203
DUPLICATE_KEY, INTERNAL = 205, 207
ERROR_TEXT = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    200: "Unsupported message type",
    201: "Unsupported event code",
    203: "Unsupported version id",
    205: "Duplicate key identifier",
    207: "Application internal error",
}

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8", "2.8.1", "2.8.2")
VERSION_RANGE = "2.3 to 2.8"


class EventClass(StrEnum):
    CONTACT = "contact"
    UPDATE = "update"
    CANCEL = "cancel"
    MERGE = "merge"
    MOVE = "move"
    LINK = "link"
    UNLINK = "unlink"


_C, _U, _X = EventClass.CONTACT, EventClass.UPDATE, EventClass.CANCEL
_M, _V = EventClass.MERGE, EventClass.MOVE
ADT_EVENTS: dict[str, EventClass] = {
    "A01": _C,  # admit / visit notification
    "A02": _C,  # transfer a patient
    "A03": _C,  # discharge / end visit
    "A04": _C,  # register a patient (arrived for a visit)
    "A05": _U,  # pre-admit a patient (a future event)
    "A06": _C,  # change an outpatient to an inpatient
    "A07": _C,  # change an inpatient to an outpatient
    "A08": _U,  # update patient information
    "A09": _C,  # patient departing - tracking
    "A10": _C,  # patient arriving - tracking
    "A11": _X,  # cancel admit / visit notification
    "A12": _X,  # cancel transfer
    "A13": _X,  # cancel discharge / end visit
    "A14": _U,  # pending admit
    "A15": _U,  # pending transfer
    "A16": _U,  # pending discharge
    "A17": _C,  # swap patients (beds)
    "A18": _M,  # merge patient information (retained for backward compatibility)
    "A21": _C,  # patient goes on a leave of absence
    "A22": _C,  # patient returns from a leave of absence
    "A23": _X,  # delete a patient record (a visit)
    "A24": EventClass.LINK,  # link patient information
    "A25": _X,  # cancel pending discharge
    "A26": _X,  # cancel pending transfer
    "A27": _X,  # cancel pending admit
    "A28": _U,  # add person information
    "A29": _X,  # delete person information
    "A30": _M,  # merge person information (retained for backward compatibility)
    "A31": _U,  # update person information
    "A32": _X,  # cancel patient arriving - tracking
    "A33": _X,  # cancel patient departing - tracking
    "A34": _M,  # merge patient information - patient id only
    "A35": _M,  # merge patient information - account number only
    "A36": _M,  # merge patient information - patient id and account number
    "A37": EventClass.UNLINK,  # unlink patient information
    "A38": _X,  # cancel pre-admit
    "A39": _M,  # merge person - patient id
    "A40": _M,  # merge patient - patient identifier list
    "A41": _M,  # merge account - patient account number
    "A42": _M,  # merge visit - visit number
    "A43": _V,  # move patient information - patient identifier list
    "A44": _V,  # move account information - patient account number
    "A45": _V,  # move visit information - visit number
    "A46": _M,  # change patient id (the old id retires into the new)
    "A47": _M,  # change patient identifier list (the old id retires into the new)
    "A48": _U,  # change alternate patient id
    "A49": _U,  # change patient account number
    "A50": _U,  # change visit number
    "A51": _U,  # change alternate visit id
    "A52": _X,  # cancel leave of absence
    "A53": _X,  # cancel patient returns from a leave of absence
    "A54": _U,  # change attending doctor
    "A55": _X,  # cancel change attending doctor
    "A60": _U,  # update allergy information
    "A61": _U,  # change consulting doctor
    "A62": _X,  # cancel change consulting doctor
}
NOT_PATIENT_EVENTS = {
    "A19": "ADT trigger event A19 is a patient query (sent as QRY), not a notification",
    "A20": "ADT trigger event A20 is a bed status update (sent as NPU), with no patient",
}
_NEEDS_MRG = frozenset({EventClass.MERGE, EventClass.MOVE})
_NEEDS_TWO_PIDS = frozenset({EventClass.LINK, EventClass.UNLINK})
# Merges after which the record named in MRG-1 is another record of the same patient, retired
# into the PID's record. An account or visit merge (A35, A41, A42) leaves the patient as it was.
RETIRING_EVENTS = frozenset({"A18", "A30", "A34", "A36", "A39", "A40", "A46", "A47"})
# Triggers whose message repeats a patient group ({PID, [PD1], MRG, [PV1]}: HL7 v2.5 message
# structures ADT_A39 for A39-A42, ADT_A43 for A43 and A47, ADT_A44 for A44): one message may
# merge or move several patients' records, each group one patient, each read as one item.
REPEATING_GROUP_EVENTS = frozenset({"A39", "A40", "A41", "A42", "A43", "A44", "A47"})

_SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")
# MSH, a field separator that is punctuation, and the four encoding characters.
_MSH = re.compile(r"MSH[^A-Za-z0-9\s].{4}")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class NotAccepted(BadRecordError):
    """A message the gateway does not take: ``code`` AR or AE, ``condition`` from HL7 table
    0357, ``reason`` in words that never quote the message."""

    def __init__(self, code: str, reason: str, condition: int) -> None:
        super().__init__(reason)
        self.code = code
        self.condition = condition


class AdtEvent(NamedTuple):
    """An accepted ADT message: its trigger event, that event's class, version, control id,
    and the encoding characters its MSH declares."""

    trigger_event: str
    event_class: EventClass
    version: str
    control_id: str
    encoding: Encoding

    @property
    def retires_a_record(self) -> bool:
        """True when MRG-1 names another record of this patient that the merge retires."""
        return self.trigger_event in RETIRING_EVENTS


def decode(message: bytes) -> str:
    """A message's text: UTF-8 (a leading byte order mark dropped) or UTF-16 with its mark."""
    if message.startswith(UTF16_BOMS):
        try:
            return message.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise NotAccepted("AR", f"not UTF-16 at byte {exc.start}", DATA_TYPE) from None
    try:
        return message.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotAccepted("AR", f"not UTF-8 at byte {exc.start}", DATA_TYPE) from None


def segments_of(text: str) -> list[str]:
    """A message's segments (split at CR, LF or CRLF), each stripped as hl7apy strips them."""
    return [s for s in (s.strip() for s in _SEGMENT_SPLIT.split(text)) if s]


def accept(segments: list[str]) -> AdtEvent:
    """The event of an ADT message we take, or NotAccepted saying why not.

    Checks, in order: MSH first with usable encoding characters; a control id (MSH-10); a
    version from 2.3 to 2.8; message type ADT; a known patient trigger event (MSH-9.2, or
    EVN-1 where a v2.3 sender left MSH-9.2 empty); PID with PID-3; MRG-1 on merges and moves;
    a second PID with PID-3 on a link or unlink.
    """
    if not segments:
        raise NotAccepted("AR", "message does not start with an MSH segment", SEGMENT_SEQUENCE)
    encoding = msh_encoding(segments[0])
    msh = segments[0].split(encoding.field, 12)
    msh += [""] * (12 - len(msh))
    message_type = msh[8].split(encoding.component)
    control_id = msh[9]
    version = msh[11].split(encoding.component, 1)[0]
    if not control_id:
        raise NotAccepted("AR", "no message control id (MSH-10)", REQUIRED_FIELD_MISSING)
    if version not in SUPPORTED_VERSIONS:
        raise NotAccepted(
            "AR", f"HL7 version not supported ({VERSION_RANGE} are)", UNSUPPORTED_VERSION
        )
    if message_type[0] != "ADT":
        named = message_type[0] if _is_event_code(message_type[0]) else ""
        raise NotAccepted(
            "AR", f"message type {named or 'unknown'} not supported (ADT is)", UNSUPPORTED_TYPE
        )
    trigger = message_type[1] if len(message_type) > 1 else ""
    if not trigger:
        evn = _first(segments, "EVN", encoding)
        trigger = _item(evn, 1).split(encoding.component)[0] if evn else ""
    if not trigger:
        raise NotAccepted(
            "AR", "ADT message without a trigger event (MSH-9.2)", REQUIRED_FIELD_MISSING
        )
    event_class = ADT_EVENTS.get(trigger)
    if event_class is None:
        named = f"ADT trigger event {trigger}" if _is_event_code(trigger) else "ADT trigger event"
        reason = NOT_PATIENT_EVENTS.get(trigger) or f"{named} not supported (A01 to A62 are)"
        raise NotAccepted("AR", reason, UNSUPPORTED_EVENT)
    _check_segments(segments, encoding, trigger, event_class)
    return AdtEvent(trigger, event_class, version, control_id, encoding)


def trigger_of(segments: list[str]) -> str:
    """A message's trigger event (MSH-9.2, else EVN-1) read with the separators MSH-1 and
    MSH-2 name, checked or not; "" if there is none. For a message ``accept`` refused, to
    know how many patient groups it carries."""
    if not segments or segments[0][:3] != "MSH" or len(segments[0]) < 5:
        return ""
    field, component = segments[0][3], segments[0][4]
    msh = segments[0].split(field, 9)
    message_type = msh[8].split(component) if len(msh) > 8 else []
    if len(message_type) > 1 and message_type[1]:
        return message_type[1]
    evn = next((s for s in segments if s[:3] == "EVN" and s[3:4] in ("", field)), "")
    values = evn.split(field, 2)
    return values[1].split(component)[0] if len(values) > 1 else ""


def msh_encoding(segment: str) -> Encoding:
    """The encoding characters an MSH segment declares; NotAccepted if it is not one."""
    return _msh_encoding(segment[:8])


@lru_cache(maxsize=64)
def _msh_encoding(segment: str) -> Encoding:
    if _MSH.match(segment) is None:
        raise NotAccepted("AR", "message does not start with an MSH segment", SEGMENT_SEQUENCE)
    try:
        return Encoding.of(segment)
    except ValueError:
        raise NotAccepted("AR", "bad encoding characters in MSH-1 or MSH-2", DATA_TYPE) from None


def check_patient_group(segments: list[str], event: AdtEvent) -> None:
    """NotAccepted unless one patient group of an accepted message (its header segments and
    the group's) has what its event needs: PID-3, and MRG-1 on a merge or move."""
    _check_segments(segments, event.encoding, event.trigger_event, event.event_class)


def _check_segments(
    segments: list[str], encoding: Encoding, trigger: str, event_class: EventClass
) -> None:
    field = encoding.field
    pids = [s for s in segments if s[:3] == "PID" and s[3:4] in ("", field)]
    if not pids:
        raise NotAccepted("AE", "ADT message without a PID segment", SEGMENT_SEQUENCE)
    if not _value(pids[0], 3, encoding):
        raise NotAccepted(
            "AE", "ADT message without PID-3 patient identifiers", REQUIRED_FIELD_MISSING
        )
    if event_class in _NEEDS_MRG:
        mrg = _first(segments, "MRG", encoding)
        if mrg is None or not _value(mrg, 1, encoding):
            raise NotAccepted(
                "AE",
                f"{trigger} {event_class} without MRG-1 (the prior patient identifiers)",
                REQUIRED_FIELD_MISSING,
            )
    if event_class in _NEEDS_TWO_PIDS and (len(pids) < 2 or not _value(pids[1], 3, encoding)):
        raise NotAccepted(
            "AE",
            f"{trigger} {event_class} without a second PID with PID-3 (the other patient)",
            REQUIRED_FIELD_MISSING,
        )


def _item(values: list[str], index: int) -> str:
    return values[index] if index < len(values) else ""


def _named(segment: str, name: str, encoding: Encoding) -> bool:
    return segment[:3] == name and segment[3:4] in ("", encoding.field)


def _first(segments: list[str], name: str, encoding: Encoding) -> list[str] | None:
    segment = next((s for s in segments if _named(s, name, encoding)), None)
    return None if segment is None else segment.split(encoding.field)


def _value(segment: str | list[str], number: int, encoding: Encoding) -> bool:
    """Whether field ``number`` of a segment (not MSH) holds a value, as the reader reads it.

    Most fields start with a character that is neither a delimiter nor blank: that settles it
    without reading the field; the rest are read as the reader reads them.
    """
    if isinstance(segment, str):
        segment = segment.split(encoding.field, number + 1)
    text = segment[number] if number < len(segment) else ""
    if not text:
        return False
    if text[0] not in encoding.delimiters and not text[0].isspace():
        return True
    return bool(read_field(text, encoding))


def _is_event_code(text: str) -> bool:
    """Three ASCII letters or digits: safe to name in a reason (it cannot hold personal data)."""
    return len(text) == 3 and text.isascii() and text.isalnum()
