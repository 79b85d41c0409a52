"""A contact: a real event with the child, as one agency's record of it says.

An attended appointment, an admission or discharge, a home or social work visit, an assessment,
a plan review, a day in school (the last day on roll): never an administrative time (an
export, a record update, FHIR ``meta.lastUpdated``, an ADT update message). Each source's
mapping says which of its fields are contacts (its ``contacts`` rule); nothing else is.
"Unseen" is measured from contacts only.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

# The kinds of contact, as mappings write them (plain words: pages show them as they are).
CONTACT_KINDS = (
    "hospital admission",
    "hospital discharge",
    "attended appointment",
    "finished encounter",
    "home visit",
    "social work visit",
    "assessment",
    "plan review",
    "last day on roll",
)


class Contact(BaseModel):
    """One contact: what kind, and on which day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    on: date
