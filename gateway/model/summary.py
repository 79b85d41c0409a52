"""The shape of a child's minimised summary ("flag, not file"): the fields an agreement clause
can name, by section. Built by ``gateway.lookup.summary.summarise``; agreements are validated
against ``ChildSummary.field_names()``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel


class EducationSummary(BaseModel):
    known: bool = False
    on_roll: bool | None = None
    last_school: str | None = None
    left_roll_on: date | None = None
    leaving_reason: str | None = None
    ehe_status: str = "not registered"
    ehe_registered_on: date | None = None
    missing_education: bool = False


class HealthSummary(BaseModel):
    known: bool = False
    gp_practice_ods: str | None = None
    # The latest real health contact (an attendance, an admission, a finished encounter).
    last_contact_date: date | None = None
    last_contact_kind: str | None = None


class SocialCareSummary(BaseModel):
    known: bool = False
    open_now: bool = False
    lead_team: str | None = None
    first_referral_on: date | None = None
    latest_referral_on: date | None = None
    child_in_need: str = "never"
    child_protection_plan: str = "never"
    looked_after: str = "never"
    # The latest real social care contact (a visit, an assessment, a plan review).
    last_contact_on: date | None = None
    last_contact_kind: str | None = None


class HeldRecordNotice(BaseModel):
    """That an agency's record about the child is waiting, and since when: never its content.

    ``why``: "held" (held for a data-quality check: quarantined by validation) or "review"
    (a possible match for this child waiting for a person to decide)."""

    agency: str
    since: date
    why: str


class ChildSummary(BaseModel):
    child_id: str
    restricted: bool
    known_to: list[str]
    # Records about the child the index holds back (of the agencies the clause covers).
    held_records: list[HeldRecordNotice] = []
    education: EducationSummary
    health: HealthSummary
    social_care: SocialCareSummary

    @classmethod
    def field_names(cls) -> list[str]:
        """Every field an answer can disclose, as dotted names (``health.gp_practice_ods``)."""
        fields = ["child_id", "restricted", "known_to", "held_records"]
        for part, section in SECTIONS.items():
            fields += [f"{part}.{name}" for name in section.model_fields]
        return fields

    def disclosed_fields(self) -> list[str]:
        return self.field_names()

    def flat(self) -> dict[str, Any]:
        """Every field by its dotted name."""
        values: dict[str, Any] = {
            "child_id": self.child_id,
            "restricted": self.restricted,
            "known_to": self.known_to,
            "held_records": [n.model_dump(mode="json") for n in self.held_records],
        }
        for part in SECTIONS:
            section = getattr(self, part).model_dump(mode="json")
            values.update({f"{part}.{name}": value for name, value in section.items()})
        return values


SECTIONS: dict[str, type[BaseModel]] = {
    "education": EducationSummary,
    "health": HealthSummary,
    "social_care": SocialCareSummary,
}
