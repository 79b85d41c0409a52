"""The EHE caseload: every child home educated or removed from roll to home education, with
who else knows them, in bands an officer can act on, each with its reasons in plain words.

A plain function over the read model (``ehe_caseload``); the policy point
(``gateway.policy.listings.audited_caseload``) filters, pages and audits it, and the API and
the web pages render it. Each concern has a code, a weight (``settings().caseload_weights``,
documented there) and plain words (``gateway.glossary.CASELOAD_REASONS``). Bands: "act now"
(a plan or looked after now, removed from roll while open to social care, unseen for
``caseload_act_now_unseen_months`` with no GP; or a score at or above the act-now score),
"check" (a score at or above the check score), "routine". "Unseen" is measured from real
contacts only (``gateway.lookup.contacts``), and names the kind and the agency of the last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel
from sqlalchemy.orm import Session

from gateway.glossary import CASELOAD_REASONS, long_date, words
from gateway.linkage.corroboration import birth_dates_agree, forenames_agree
from gateway.linkage.probabilistic import PersonRow
from gateway.linkage.resolution import possible_twins
from gateway.linkage.review_risk import person_row
from gateway.lookup.contacts import SeenContact, last_contact, unseen_since
from gateway.lookup.summary import summarise
from gateway.model import CanonicalRecord, Episode
from gateway.model.summary import SECTIONS, ChildSummary, HeldRecordNotice, SocialCareSummary
from gateway.read_model import FoundChild, educated_children, possible_matches
from gateway.settings import CASELOAD_WEIGHTS, settings

NOT_SHARED = "not shared"


@dataclass(frozen=True)
class SharedFacts:
    """What a clause shares: agencies and dotted summary fields (None: everything)."""

    sources: frozenset[str] | None = None
    fields: frozenset[str] | None = None

    def allows(self, name: str) -> bool:
        return self.fields is None or name in self.fields


def withhold(summary: ChildSummary, shared: SharedFacts) -> ChildSummary:
    """The summary with every field the clause does not share blanked ("not shared" for states)."""
    if shared.fields is None:
        return summary
    changed = summary.model_copy(deep=True)
    for part in SECTIONS:
        section = getattr(changed, part)
        for name, info in type(section).model_fields.items():
            if shared.allows(f"{part}.{name}"):
                continue
            blank = NOT_SHARED if isinstance(info.default, str) else info.default
            setattr(section, name, blank)
    return changed


EHE_LEAVING_REASONS = ("EHE", "ELECTIVE HOME EDUCATION", "HOME EDUCATION")
BANDS = ("act now", "check", "routine")
# Concerns that put a child in "act now" whatever the score.
ACT_NOW = frozenset({"plan_now", "looked_after_now", "removed_while_open", "unseen_no_gp"})


class CaseloadEntry(BaseModel):
    """One child's row. A restricted child's row says only that the child is on the caseload
    and whom to contact (``notice``): every other field is empty."""

    child_id: str
    restricted: bool
    notice: str | None = None
    band: str | None = None  # "act now", "check" or "routine"
    concern: int | None = None
    reasons: list[str] = []  # plain words, weightiest first
    reason_codes: list[str] = []  # the same, as codes (``settings().caseload_weights``)
    initials: str | None = None  # from the LA's own education records
    birth_date: date | None = None
    ehe_status: str | None = None
    ehe_registered_on: date | None = None
    left_roll_on: date | None = None
    removed_to_home_education: bool | None = None
    social_care: str | None = None  # "now", "before", "never" or "not shared"
    child_in_need: str | None = None
    child_protection_plan: str | None = None
    looked_after: str | None = None
    lead_team: str | None = None
    gp_practice_ods: str | None = None
    last_health_contact: date | None = None
    last_seen_by_any_agency: date | None = None
    last_seen_by: str | None = None  # the agency that recorded that contact
    last_seen_kind: str | None = None  # what the contact was (a visit, an attended appointment)
    unseen: bool | None = None  # None: the clause shares no agency's contact dates
    # Unseen in its own records for the window, but a possible match waiting for review shows a
    # contact in it (``caseload_entry``): the reason says so; it is not counted unseen.
    possibly_seen: bool | None = None
    unseen_act_now_window: bool | None = None  # unseen for the act-now window
    removed_while_known_to_social_care: bool | None = None
    held_records: list[HeldRecordNotice] = []
    known_to: list[str] = []
    gp_shared: bool = False  # whether the clause shares the GP practice (so "no GP" is known)

    @property
    def on_a_plan(self) -> bool:
        return "current" in (self.child_protection_plan, self.child_in_need, self.looked_after)


# A caseload fact derived from the summary may be shown only where the clause shares every
# summary field it is derived from (a derived field inherits the clause of its inputs).
CONTACT_FIELDS = {
    "health": "health.last_contact_date",
    "education": "education.left_roll_on",
    "social_care": "social_care.last_contact_on",
}
REMOVAL_FIELDS = ("education.left_roll_on", "education.leaving_reason")


def ehe_caseload(
    session: Session,
    *,
    today: date,
    unseen_months: int = 6,
    limit: int | None = None,
    shared: SharedFacts | None = None,
) -> list[CaseloadEntry]:
    """The worklist: act now first, then check, then routine; within a band the highest score
    (then the longest unseen) first; restricted children after the rest (their facts may not
    order the list).

    ``shared`` (from the agreement clause) limits the agencies and summary fields the list is
    built from: a fact withheld, or derived from one withheld, is shown as "not shared" and
    never feeds the score, the band or the reasons."""
    facts = shared or SharedFacts()
    entries = [
        e for _, e in caseload_entries(session, today=today, months=unseen_months, shared=facts)
    ]
    worklist = sorted(entries, key=_order)
    return worklist[:limit] if limit else worklist


def caseload_entries(
    session: Session, *, today: date, months: int, shared: SharedFacts | None = None
) -> list[tuple[FoundChild, CaseloadEntry]]:
    """Every home-educated child with its entry, unseen judged over ``months`` with the open
    review pairs touching it (``caseload_entry``): the caseload and the team alerts read
    children this one way."""
    children = educated_children(session)
    matches = possible_matches(session, {c.child_id: c.records for c in children})
    found = []
    for child in children:
        entry = caseload_entry(
            child,
            child.records,
            today=today,
            unseen_months=months,
            shared=shared,
            possible=matches.get(child.child_id, ()),
        )
        if entry is not None:
            found.append((child, entry))
    return found


def _order(entry: CaseloadEntry) -> tuple[object, ...]:
    band = BANDS.index(entry.band) if entry.band in BANDS else len(BANDS)
    return (
        entry.restricted,
        band,
        -(entry.concern or 0),
        entry.last_seen_by_any_agency or date.min,
        entry.child_id,
    )


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    for candidate in range(day.day, 0, -1):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise ValueError("unreachable")  # pragma: no cover


def _removed_to_home_education(summary: ChildSummary, records: list[CanonicalRecord]) -> bool:
    left_on = summary.education.left_roll_on
    if left_on is None:
        return False
    reason = (summary.education.leaving_reason or "").strip().upper()
    destinations = {
        (e.destination or "").strip().upper()
        for r in records
        if r.education is not None
        for e in r.education.enrolments
        if e.leaving_date == left_on
    }
    return reason in EHE_LEAVING_REASONS or bool(destinations & set(EHE_LEAVING_REASONS))


def _episodes(records: list[CanonicalRecord]) -> list[Episode]:
    every: list[Episode] = []
    for facts in (r.social_care for r in records if r.social_care is not None):
        every += facts.referrals + facts.child_in_need + facts.child_protection_plans
        every += facts.looked_after
    return every


def _known_to_social_care_by(summary: ChildSummary, records: list[CanonicalRecord]) -> bool:
    """Known to social care on or before the day the child left the roll (or open now)."""
    left_on = summary.education.left_roll_on
    if summary.social_care.open_now:
        return True
    return any(
        e.start_date is None or (left_on and e.start_date <= left_on) for e in _episodes(records)
    )


def caseload_entry(
    child: FoundChild,
    records: list[CanonicalRecord],
    *,
    today: date,
    unseen_months: int,
    shared: SharedFacts | None = None,
    possible: Sequence[tuple[CanonicalRecord, CanonicalRecord]] = (),
) -> CaseloadEntry | None:
    """One child's caseload entry, or None when the child is not home educated (as far as the
    clause lets that be known).

    Built only from the agencies and fields ``shared`` allows: a fact withheld, or derived from
    a withheld one, never feeds the score or the reasons. ``possible`` holds the open review
    pairs touching the child (its record, the other): a child none of whose records shows a
    contact in a window, but whose possible match does, is not called unseen for that window;
    its reason says a possible match waiting for review shows a contact (no date, no content),
    with the weight of unseen, so its band does not fall."""
    facts = shared or SharedFacts()
    visible = [r for r in records if facts.sources is None or r.agency in facts.sources]
    held = [
        HeldRecordNotice(agency=n.agency, since=n.since, why=n.why)
        for n in child.held
        if facts.sources is None or n.agency in facts.sources
    ]
    full = summarise(child, visible, held)
    removed = all(facts.allows(f) for f in REMOVAL_FIELDS) and _removed_to_home_education(
        full, visible
    )
    registered = facts.allows("education.ehe_status") and full.education.ehe_status == "registered"
    if not registered and not removed:
        return None
    summary = withhold(full, facts)
    care = summary.social_care
    social_shared = facts.allows("social_care.known")
    social = "now" if care.open_now is True else ("before" if care.known else "never")
    if not social_shared:
        social = NOT_SHARED
    contact_agencies = frozenset(a for a, f in CONTACT_FIELDS.items() if facts.allows(f))
    # Derived from the dates social care's episodes began: shown only where those are shared.
    removed_while_known = bool(
        removed
        and social_shared
        and facts.allows("social_care.latest_referral_on")
        and _known_to_social_care_by(full, visible)
    )
    seen = last_contact(visible, contact_agencies)
    maybe = _seen_in_possible_match(possible, contact_agencies, facts)
    act_now_months = settings().caseload_act_now_unseen_months
    unseen = unseen_long = possibly_seen = None
    if contact_agencies:
        window, long_window = (
            months_before(today, unseen_months),
            months_before(today, act_now_months),
        )
        own_unseen = unseen_since(seen, window)
        possibly_seen = own_unseen and not unseen_since(maybe, window)
        unseen = own_unseen and not possibly_seen
        unseen_long = unseen_since(seen, long_window) and unseen_since(maybe, long_window)
    gp_shared = facts.allows("health.gp_practice_ods")
    found = _concerns(
        summary,
        removed_while_open=removed_while_known and social == "now",
        removed_while_known=removed_while_known,
        unseen=(seen, unseen_months) if unseen else None,
        unseen_no_gp=(seen, act_now_months)
        if unseen_long and gp_shared and not summary.health.gp_practice_ods
        else None,
        no_gp=gp_shared and not summary.health.gp_practice_ods,
        possibly_seen=(seen, unseen_months, maybe) if possibly_seen else None,
    )
    concern, band = _score(found)
    initials, born = (
        _named(visible) if facts.sources is None or "education" in facts.sources else (None, None)
    )
    return CaseloadEntry(
        child_id=child.child_id,
        restricted=child.restricted,
        band=band,
        concern=concern,
        reasons=[words_ for _, words_ in found],
        reason_codes=[code for code, _ in found],
        initials=initials,
        birth_date=born,
        ehe_status=summary.education.ehe_status,
        ehe_registered_on=summary.education.ehe_registered_on,
        left_roll_on=summary.education.left_roll_on,
        removed_to_home_education=removed,
        social_care=social,
        child_in_need=care.child_in_need,
        child_protection_plan=care.child_protection_plan,
        looked_after=care.looked_after,
        lead_team=care.lead_team,
        gp_practice_ods=summary.health.gp_practice_ods,
        last_health_contact=summary.health.last_contact_date,
        last_seen_by_any_agency=seen.on if seen else None,
        last_seen_by=seen.agency if seen else None,
        last_seen_kind=seen.kind if seen else None,
        unseen=unseen,
        possibly_seen=possibly_seen,
        unseen_act_now_window=unseen_long,
        removed_while_known_to_social_care=removed_while_known,
        held_records=held,
        known_to=summary.known_to,
        gp_shared=gp_shared,
    )


def _seen_in_possible_match(
    possible: Sequence[tuple[CanonicalRecord, CanonicalRecord]],
    agencies: frozenset[str],
    facts: SharedFacts,
) -> SeenContact | None:
    """The latest contact a possible match of the child shows (of the agencies the clause
    shares). Only a match that looks like the child counts: forenames and birth dates that
    agree as linkage's corroboration reads them, and not shaped like twins (a sibling's NHS
    number copied in, or a twin seen, says nothing of this child). A restricted record's
    contacts are weighed for no one."""
    others = [
        other
        for mine, other in possible
        if not other.identity.restricted
        and (facts.sources is None or other.agency in facts.sources)
        and _looks_like(_person(mine), _person(other))
    ]
    return last_contact(others, agencies)


def _looks_like(mine: PersonRow, other: PersonRow) -> bool:
    return (
        forenames_agree(mine, other)
        and birth_dates_agree(mine, other)
        and not possible_twins(mine, other)
    )


def _person(record: CanonicalRecord) -> PersonRow:
    return person_row(record.identity.model_dump(mode="json"), record.provenance.source)


def _named(records: list[CanonicalRecord]) -> tuple[str | None, date | None]:
    """The child's initials and birth date as the LA's own education records give them (the
    most common, where records disagree)."""
    names: dict[str, int] = {}
    births: dict[date, int] = {}
    for record in records:
        if record.agency != "education":
            continue
        identity = record.identity
        letters = "".join(
            part[0].upper() for part in (identity.given_name, identity.family_name) if part
        )
        if letters:
            names[letters] = names.get(letters, 0) + 1
        if identity.birth_date:
            births[identity.birth_date] = births.get(identity.birth_date, 0) + 1
    initials = max(sorted(names), key=lambda k: names[k]) if names else None
    born = max(sorted(births), key=lambda k: births[k]) if births else None
    return initials, born


def weights() -> dict[str, int]:
    """Each concern's weight: the settings', with the default for any they leave out."""
    return {**CASELOAD_WEIGHTS, **settings().caseload_weights}


def _score(found: list[tuple[str, str]]) -> tuple[int, str]:
    """The score (the sum of the concerns' weights) and the band."""
    weight = weights()
    score = sum(weight.get(code, 0) for code, _ in found)
    if ACT_NOW & {code for code, _ in found} or score >= settings().caseload_act_now_score:
        return score, "act now"
    return score, "check" if score >= settings().caseload_check_score else "routine"


def _unseen_words(code: str, seen: SeenContact | None, months: int, **more: str) -> tuple[str, str]:
    if seen is None:
        since = "no contact on record"
    else:
        agency = words(seen.agency).lower()
        since = f"last contact: {seen.kind}, {agency}, {long_date(seen.on)}"
    return code, CASELOAD_REASONS[code].format(months=months, since=since, **more)


def _concerns(
    summary: ChildSummary,
    *,
    removed_while_open: bool,
    removed_while_known: bool,
    unseen: tuple[SeenContact | None, int] | None,
    unseen_no_gp: tuple[SeenContact | None, int] | None,
    no_gp: bool,
    possibly_seen: tuple[SeenContact | None, int, SeenContact | None] | None = None,
) -> list[tuple[str, str]]:
    """The child's concerns as (code, plain words), weightiest first."""
    found = _care_now(summary.social_care)
    if removed_while_open:
        found.append(("removed_while_open", CASELOAD_REASONS["removed_while_open"]))
    elif removed_while_known:
        found.append(("removed_while_known", CASELOAD_REASONS["removed_while_known"]))
    if unseen_no_gp is not None:
        found.append(_unseen_words("unseen_no_gp", *unseen_no_gp))
    elif unseen is not None:
        found.append(_unseen_words("unseen", *unseen))
    elif possibly_seen is not None:
        own, months, other = possibly_seen
        agency = words(other.agency).lower() if other else "an agency's"
        found.append(_unseen_words("possibly_seen", own, months, agency=agency))
    for notice in summary.held_records:
        code = "held_record" if notice.why == "held" else "review_pair"
        agency, since = words(notice.agency).lower(), long_date(notice.since)
        found.append((code, CASELOAD_REASONS[code].format(agency=agency, since=since)))
    if summary.education.missing_education:
        found.append(("missing_education", CASELOAD_REASONS["missing_education"]))
    found += _care_before(summary.social_care)
    if no_gp and unseen_no_gp is None:
        found.append(("no_gp", CASELOAD_REASONS["no_gp"]))
    weight = weights()
    return sorted(found, key=lambda item: -weight.get(item[0], 0))


def _care_now(care: SocialCareSummary) -> list[tuple[str, str]]:
    """Plans, looked after, or a case open without a plan, now."""
    found: list[tuple[str, str]] = []
    if care.child_protection_plan == "current":
        found.append(
            ("plan_now", CASELOAD_REASONS["plan_now"].format(plan="child protection plan"))
        )
    elif care.child_in_need == "current":
        found.append(("plan_now", CASELOAD_REASONS["plan_now"].format(plan="child in need plan")))
    if care.looked_after == "current":
        found.append(("looked_after_now", CASELOAD_REASONS["looked_after_now"]))
    if care.open_now and not found:
        found.append(("open_no_plan", CASELOAD_REASONS["open_no_plan"]))
    return found


def _care_before(care: SocialCareSummary) -> list[tuple[str, str]]:
    """Plans and care that have ended."""
    states = (
        ("plan_before", care.child_protection_plan),
        ("looked_after_before", care.looked_after),
        ("cin_before", care.child_in_need),
    )
    return [(code, CASELOAD_REASONS[code]) for code, state in states if state == "past"]
