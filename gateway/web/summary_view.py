"""The summary page's rows: each field the disclosure shows, or why it was withheld."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
        ),
    ),
    (
        "Health",
        "health",
        (
            ("known", "Known to health", "yesno"),
            ("gp_practice_ods", "Registered GP practice (ODS code)", "text"),
            ("last_contact_date", "Last health contact", "text"),
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
