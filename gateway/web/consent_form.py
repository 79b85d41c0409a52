"""The web form that records a family's consent with its evidence, offered where a lookup was
refused for want of consent and the person's role may record it (``consent_roles``).

What is typed is checked here and by ``gateway.access.consent`` (the API's own rules); every
problem is shown beside its field at once.
"""

from __future__ import annotations

from datetime import date
from typing import get_args

from gateway import clock
from gateway.access.agreements import Agreement, may_record_consent
from gateway.access.audit import Actor
from gateway.access.consent import ConsentEvidence, Giver, Method
from gateway.access.purposes import Purpose

GIVERS: dict[str, str] = {
    "parent": "A parent",
    "carer": "A carer (someone with parental responsibility)",
    "young_person": "The young person themselves",
}
METHODS: dict[str, str] = {
    "written": "In writing (a signed form or letter)",
    "verbal": "Spoken (in person or by phone, noted at the time)",
    "electronic": "Electronically (e-mail or an online form)",
}
assert set(GIVERS) == set(get_args(Giver)) and set(METHODS) == set(get_args(Method))


def consent_offer(
    agreements: list[Agreement],
    who: Actor,
    outcome: str,
    *,
    identifier: str,
    purpose: Purpose,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, object] | None:
    """The consent form for a lookup refused for want of consent, if an agreement lets the
    person's role record consent for this purpose."""
    if outcome != "no_consent" or not may_record_consent(
        agreements, who, purpose.code, clock.today()
    ):
        return None
    return {
        "identifier": identifier,
        "purpose": purpose.code,
        "givers": GIVERS,
        "methods": METHODS,
        "typed": typed or {},
        "errors": errors or {},
        "today": clock.today().isoformat(),
    }


def withdraw_offer(
    agreements: list[Agreement], who: Actor, purpose: Purpose, *, identifier: str
) -> dict[str, object] | None:
    """The withdrawal button under a summary shown for a purpose that needs consent, for the
    roles that may record consent (a summary is shown then only while consent is in force)."""
    if not purpose.requires_consent or not may_record_consent(
        agreements, who, purpose.code, clock.today()
    ):
        return None
    return {"identifier": identifier, "purpose": purpose.code}


def read_evidence(
    given_by: str, given_on: str, method: str, reference: str
) -> tuple[ConsentEvidence | None, dict[str, str]]:
    """The evidence typed, or what is wrong with each field."""
    errors: dict[str, str] = {}
    if given_by not in GIVERS:
        errors["given_by"] = "Say who gave consent"
    if method not in METHODS:
        errors["method"] = "Say how consent was given"
    try:
        day = date.fromisoformat(given_on)
    except ValueError:
        errors["given_on"] = "Give the day consent was given, for example 2026-11-20"
        day = None
    if day is not None and day > clock.today():
        errors["given_on"] = "The day consent was given cannot be in the future"
        day = None
    # The core's own check (the API's), on a day already checked: what remains is the reference.
    evidence = ConsentEvidence(given_by, day or clock.today(), method, reference)  # type: ignore[arg-type]
    problem = evidence.problem()
    if problem:
        errors["evidence_ref"] = problem[:1].upper() + problem[1:]
    return (None if errors else evidence), errors
