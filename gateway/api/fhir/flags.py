"""A lookup's answer as FHIR R4 Flags: "flag, not file" for health systems (in the spirit of
CP-IS), validated with ``fhir.resources.R4B``.

The Flags are read off the ``Disclosure`` the policy point gave (``disclosure.summary``, which
holds only the fields the clause shares for the role and purpose): a Flag needs its field to be
there, so nothing leaves that the lookup API would not show. Each kind of Flag is one row of
``FLAG_KINDS``: its code in our code system, its category, the summary field it reads, the value
that raises it, and the field its period starts from (when the clause shares that date too).

A restricted child's answer is existence and whom to contact: one Flag, code ``restricted``,
whose text is the agreement's contact notice, and nothing else about the child (under an
active break-glass override, that Flag and the others the override's answer raises).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.operationoutcome import OperationOutcome

from gateway.policy.disclosure import Disclosure

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# Our code system of Flag codes (documented in docs/health-systems.md); a name, not a web page.
FLAG_SYSTEM = "urn:ehe-gateway:fhir:CodeSystem:ehe-flag"
LEAD_TEAM_EXTENSION = "urn:ehe-gateway:fhir:StructureDefinition:lead-team"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/flag-category"
CATEGORY_DISPLAY = {"admin": "Administrative", "safety": "Safety"}
AUTHOR = {"type": "Device", "display": "EHE gateway"}
# Stable resource ids (uuid5 of the child id and the code): the same Flag has the same id.
_IDS = uuid.UUID("5b0e1f4c-3a41-4a57-9a43-6f1de2f6a7c1")


@dataclass(frozen=True)
class FlagKind:
    """One kind of Flag: raised when the summary field ``field`` (a dotted name) holds a value
    ``raised`` accepts; its period starts at ``since`` when that field is shared and set."""

    code: str
    display: str
    category: str
    field: str
    raised: Callable[[Any], bool]
    since: str | None = None


def _is(expected: object) -> Callable[[Any], bool]:
    return lambda value: value == expected


FLAG_KINDS: tuple[FlagKind, ...] = (
    FlagKind(
        "ehe",
        "Electively home educated",
        "admin",
        "education.ehe_status",
        _is("registered"),
        since="education.ehe_registered_on",
    ),
    FlagKind(
        "missing-education",
        "Child missing education",
        "admin",
        "education.missing_education",
        _is(True),
    ),
    FlagKind(
        "social-care-known",
        "Known to children's social care",
        "safety",
        "social_care.known",
        _is(True),
        since="social_care.first_referral_on",
    ),
    FlagKind(
        "social-care-open",
        "Open to children's social care now",
        "safety",
        "social_care.open_now",
        _is(True),
    ),
    FlagKind(
        "child-in-need",
        "Child in need (current)",
        "safety",
        "social_care.child_in_need",
        _is("current"),
    ),
    FlagKind(
        "child-protection-plan",
        "Subject of a child protection plan",
        "safety",
        "social_care.child_protection_plan",
        _is("current"),
    ),
    FlagKind(
        "looked-after",
        "Looked after by the local authority",
        "safety",
        "social_care.looked_after",
        _is("current"),
    ),
)
RESTRICTED = FlagKind("restricted", "Restricted record", "admin", "restricted", _is(True))
FHIR_JSON = "application/fhir+json"


def _value(summary: dict[str, Any], dotted: str) -> Any:
    section, _, name = dotted.partition(".")
    found = summary.get(section)
    if not name:
        return found
    return found.get(name) if isinstance(found, dict) else None


def flags_of(answer: Disclosure, nhs_number: str) -> list[Flag]:
    """The Flags the answer raises about the child the NHS number names (its subject: the
    identifier only, never a name)."""
    summary = answer.summary
    flags = []
    if answer.restricted:  # its summary holds no section unless the glass was broken
        flags.append(_flag(RESTRICTED, answer, nhs_number, text=answer.notice))
    for kind in FLAG_KINDS:
        if not kind.raised(_value(summary, kind.field)):
            continue
        since = _value(summary, kind.since) if kind.since else None
        extensions = []
        team = _value(summary, "social_care.lead_team")
        if kind.code == "social-care-known" and team:
            extensions.append({"url": LEAD_TEAM_EXTENSION, "valueString": team})
        flags.append(_flag(kind, answer, nhs_number, since=since, extensions=extensions))
    return flags


def not_shared(answer: Disclosure) -> list[str]:
    """The kinds of Flag the clause does not let this role see for this purpose (their absence
    says nothing about the child)."""
    if answer.restricted and answer.notice:  # existence and whom to contact, by design
        return []
    shared = set(answer.fields_disclosed)
    return [k.code for k in FLAG_KINDS if k.field not in shared]


def _flag(
    kind: FlagKind,
    answer: Disclosure,
    nhs_number: str,
    *,
    text: str | None = None,
    since: str | None = None,
    extensions: list[dict[str, Any]] | None = None,
) -> Flag:
    resource: dict[str, Any] = {
        "resourceType": "Flag",
        "id": str(uuid.uuid5(_IDS, f"{answer.child_id}/{kind.code}")),
        "status": "active",
        "category": [
            {
                "coding": [
                    {
                        "system": CATEGORY_SYSTEM,
                        "code": kind.category,
                        "display": CATEGORY_DISPLAY[kind.category],
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": FLAG_SYSTEM, "code": kind.code, "display": kind.display}],
            "text": text or kind.display,
        },
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}},
        "author": AUTHOR,
    }
    if since:
        resource["period"] = {"start": since}
    if extensions:
        resource["extension"] = extensions
    return Flag.model_validate(resource)


def searchset(flags: list[Flag], notes: list[str]) -> Bundle:
    """A searchset Bundle of the Flags (``total``: how many), with an informational
    OperationOutcome (search mode ``outcome``) carrying ``notes`` if there are any."""
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{flag.id}",
            "resource": flag.model_dump(mode="json"),
            "search": {"mode": "match"},
        }
        for flag in flags
    ]
    if notes:
        outcome = operation_outcome("information", "informational", notes)
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": outcome.model_dump(mode="json"),
                "search": {"mode": "outcome"},
            }
        )
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "searchset",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "total": len(flags),
            "entry": entries or None,
        }
    )


def answer_notes(answer: Disclosure) -> list[str]:
    """What a reader of the Bundle should know: the clause that allowed it, the Flags it may
    not see, and a restricted child's contact notice."""
    notes = [f"answered under {answer.agreement_clause or 'no clause'} for {answer.purpose}"]
    hidden = not_shared(answer)
    if hidden:
        notes.append(
            "not shared with this role for this purpose, so their absence means nothing: "
            + ", ".join(hidden)
        )
    if answer.restricted and answer.notice:
        notes.append(answer.notice)
    return notes


def operation_outcome(severity: str, code: str, messages: list[str]) -> OperationOutcome:
    """An OperationOutcome of one issue per message (``code``: the FHIR issue type)."""
    issues = [{"severity": severity, "code": code, "diagnostics": m} for m in messages]
    return OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": issues})
