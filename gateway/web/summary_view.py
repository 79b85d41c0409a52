"""The summary page: what matters first (plan, open case, last seen, held records, agencies
that disagree), then each field the disclosure shows, or why it was withheld. Built from the
disclosed summary only: nothing here decides what a person may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.glossary import long_date, words
from gateway.lookup.caseload import months_before
from gateway.policy.disclosure import LOCATION_FIELDS, Disclosure

# (section title, section key, [(field, label, how to show it)]) in the order of the page.
LAYOUT: tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Children's social care",
        "social_care",
        (
            ("known", "Known to social care", "yesno"),
            ("open_now", "Open now", "warn"),
            ("lead_team", "Lead team", "text"),
            ("child_in_need", "Child in need", "state"),
            ("child_protection_plan", "Child protection plan", "state"),
            ("looked_after", "Looked after", "state"),
            ("first_referral_on", "First referral", "text"),
            ("latest_referral_on", "Latest referral", "text"),
            ("last_contact_on", "Last social care contact", "date"),
            ("last_contact_kind", "What that contact was", "text"),
        ),
    ),
    (
        "Health",
        "health",
        (
            ("known", "Known to health", "yesno"),
            ("gp_practice_ods", "Registered GP practice (ODS code)", "text"),
            ("last_contact_date", "Last health contact", "date"),
            ("last_contact_kind", "What that contact was", "text"),
        ),
    ),
    (
        "Education",
        "education",
        (
            ("known", "Known to education", "yesno"),
            ("ehe_status", "EHE status", "text"),
            ("ehe_registered_on", "Registered for EHE on", "text"),
            ("on_roll", "On a school roll", "onroll"),
            ("last_school", "Last school", "text"),
            ("left_roll_on", "Left roll on", "text"),
            ("leaving_reason", "Leaving reason", "text"),
            ("missing_education", "Missing education now", "warn"),
        ),
    ),
)
WITHHELD_BY_AGREEMENT = "Withheld: the agreement does not share this for your role and purpose"
WITHHELD_RESTRICTED = "Withheld: the record is restricted"


@dataclass(frozen=True)
class Row:
    label: str
    kind: str
    value: Any
    withheld: str | None  # why it is not shown, or None


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]

    @property
    def withheld(self) -> int:
        return sum(1 for r in self.rows if r.withheld)


def _why_withheld(answer: Disclosure, name: str) -> str | None:
    if name in answer.fields_disclosed:
        return None
    if answer.restricted and name in LOCATION_FIELDS:
        return WITHHELD_RESTRICTED
    return WITHHELD_BY_AGREEMENT


def summary_sections(answer: Disclosure) -> list[Section]:
    """The page's sections; empty for a restricted record shown only as existing."""
    if answer.notice is not None:
        return []
    sections = []
    for title, key, fields in LAYOUT:
        shown = answer.summary.get(key, {})
        rows = tuple(
            Row(label, kind, shown.get(field), _why_withheld(answer, f"{key}.{field}"))
            for field, label, kind in fields
        )
        sections.append(Section(title, rows))
    return sections


@dataclass(frozen=True)
class Headline:
    """One fact the page leads with: what it says, and how loud (``warn``: red)."""

    text: str
    warn: bool = False


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def headlines(answer: Disclosure, today: date, unseen_months: int) -> list[Headline]:
    """What an officer must read first: a plan or open case, when the child was last seen
    (and by whom), records held back, and where agencies' records disagree."""
    if answer.notice is not None:
        return []
    shown = answer.summary
    care, health, school = (shown.get(k, {}) for k in ("social_care", "health", "education"))
    found: list[Headline] = []
    for name, label in (
        ("child_protection_plan", "a child protection plan"),
        ("child_in_need", "a child in need plan"),
        ("looked_after", "looked after"),
    ):
        if care.get(name) == "current":
            found.append(
                Headline(f"On {label} now" if name != "looked_after" else "Looked after now", True)
            )
    if care.get("open_now") is True:
        team = f" (lead team: {care['lead_team']})" if care.get("lead_team") else ""
        found.append(Headline(f"Open to children's social care now{team}", True))
    found.append(_last_seen(care, health, school, today, unseen_months))
    for notice in shown.get("held_records", []):
        since = long_date(notice["since"])
        agency = words(notice["agency"]).lower()
        text = (
            f"A {agency} record about this child is held for a data-quality check since {since}"
            if notice["why"] == "held"
            else f"A {agency} record that may be this child's is waiting for a person to check, "
            f"since {since}"
        )
        found.append(Headline(text, True))
    return found + _disagreements(care, school, today, unseen_months)


def _last_seen(
    care: dict[str, Any], health: dict[str, Any], school: dict[str, Any], today: date, months: int
) -> Headline:
    seen = [
        (day, kind, agency)
        for day, kind, agency in (
            (_day(health.get("last_contact_date")), health.get("last_contact_kind"), "health"),
            (_day(care.get("last_contact_on")), care.get("last_contact_kind"), "social care"),
            (_day(school.get("left_roll_on")), "last day on roll", "education"),
        )
        if day is not None
    ]
    if not seen:
        return Headline("No agency's contact with this child is on record (or shared)", True)
    day, kind, agency = max(seen, key=lambda s: s[0])
    text = f"Last seen {long_date(day)}: {kind or 'a contact'} ({agency})"
    if day < months_before(today, months):
        return Headline(f"Not seen by any agency for over {months} months. {text}", True)
    return Headline(text)


def _disagreements(
    care: dict[str, Any], school: dict[str, Any], today: date, months: int
) -> list[Headline]:
    """Where one agency's record says something another's contradicts."""
    found: list[Headline] = []
    left, registered = _day(school.get("left_roll_on")), _day(school.get("ehe_registered_on"))
    if school.get("ehe_status") == "registered" and school.get("on_roll") is True:
        found.append(
            Headline(
                "Records disagree: on the EHE register, yet a school still has the child on roll"
            )
        )
    if left and registered and registered < left:
        found.append(
            Headline(
                f"Records disagree: registered for home education on {long_date(registered)}, "
                f"before the school says the child left ({long_date(left)})"
            )
        )
    elif left and registered and (registered - left).days > 30:
        found.append(
            Headline(
                f"Registered for home education {(registered - left).days} days after leaving the "
                f"roll ({long_date(left)} to {long_date(registered)}): no school or register "
                "between"
            )
        )
    last_care = _day(care.get("last_contact_on"))
    if care.get("open_now") is True and (
        last_care is None or last_care < months_before(today, months)
    ):
        found.append(
            Headline(
                "Records disagree: social care has the case open, but its last recorded contact "
                + (f"was {long_date(last_care)}" if last_care else "is not on record"),
                True,
            )
        )
    return found
