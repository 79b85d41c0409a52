"""The columns a suite checks: one row per canonical record, or per raw item of a source.

A record holds lists (school spells, plans, referrals), while an expectation checks one value
per row. For each kind of spell the row holds the first spell whose dates are out of order, or
else the latest one, so a date-order check sees the spell that fails it; code lists are joined
with ``|`` and checked code by code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from gateway.model import CanonicalRecord
from gateway.validation.checks import CODE_SEPARATOR


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _pair(spells: Sequence[tuple[date | None, date | None]]) -> tuple[str | None, str | None]:
    """The first spell ending before it began, else the latest one."""
    if not spells:
        return None, None
    for start, end in spells:
        if start and end and end < start:
            return _iso(start), _iso(end)
    start, end = spells[-1]
    return _iso(start), _iso(end)


def _codes(values: Iterable[str | None]) -> str | None:
    present = [v for v in values if v]
    return CODE_SEPARATOR.join(present) if present else None


def frame_row(record: CanonicalRecord) -> dict[str, Any]:
    """The checked columns of one canonical record."""
    identity = record.identity
    postcodes = [a.postcode for a in identity.addresses if a.postcode]
    row: dict[str, Any] = {
        "record_id": record.provenance.record_id,
        "nhs_number": identity.nhs_number,
        "upn": identity.upn,
        "postcode": identity.current_postcode or (postcodes[-1] if postcodes else None),
        "birth_date": _iso(identity.birth_date),
        "sex": identity.sex,
        "given_name": identity.given_name,
        "family_name": identity.family_name,
        "received_on": record.provenance.received_at.date().isoformat(),
    }
    row.update(_education_columns(record))
    row.update(_social_care_columns(record))
    starts = [
        row[k]
        for k in ("enrolment_entry_date", "ehe_registered_on", "plan_start", "referral_start")
        if row[k]
    ]
    row["first_event_date"] = min(starts) if starts else None
    return row


def _education_columns(record: CanonicalRecord) -> dict[str, Any]:
    education = record.education
    enrolments = education.enrolments if education else []
    ehe = education.ehe if education else []
    entry, left = _pair([(e.entry_date, e.leaving_date) for e in enrolments])
    registered, deregistered = _pair([(e.registered_on, e.deregistered_on) for e in ehe])
    return {
        "enrolment_entry_date": entry,
        "enrolment_leaving_date": left,
        "leaving_reason": _codes(e.leaving_reason for e in enrolments),
        "ehe_registered_on": registered,
        "ehe_deregistered_on": deregistered,
    }


def _social_care_columns(record: CanonicalRecord) -> dict[str, Any]:
    care = record.social_care
    plans = [*care.child_in_need, *care.child_protection_plans] if care else []
    referrals = care.referrals if care else []
    plan_start, plan_end = _pair([(p.start_date, p.end_date) for p in plans])
    referral_start, referral_end = _pair([(r.start_date, r.end_date) for r in referrals])
    return {
        "plan_start": plan_start,
        "plan_end": plan_end,
        "referral_start": referral_start,
        "referral_end": referral_end,
        "referral_source": _codes(r.reason for r in referrals),
    }


def raw_row(item: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    """Columns picked from a connector's raw item by dotted paths (``CINdetails.ReferralNFA``,
    ``PID-7.0.0``); values found along lists are joined with ``|``."""
    return {name: _codes(_walk(item, path.split("."))) for name, path in columns.items()}


def _walk(node: Any, steps: list[str]) -> list[str | None]:
    if not steps:
        if isinstance(node, list):
            return [x for item in node for x in _walk(item, [])]
        return [None if node is None else str(node)]
    step, rest = steps[0], steps[1:]
    if isinstance(node, list):
        if step.isdigit():
            index = int(step)
            return _walk(node[index], rest) if index < len(node) else []
        return [x for item in node for x in _walk(item, steps)]
    if isinstance(node, dict) and step in node:
        return _walk(node[step], rest)
    return []
