"""The canonical record: one agency's record of one child, in one shape for every source."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.model.contact import Contact
from gateway.model.education import EducationFacts
from gateway.model.health import HealthFacts
from gateway.model.identity import ChildIdentity
from gateway.model.provenance import Provenance
from gateway.model.social_care import SocialCareFacts

Agency = Literal["education", "health", "social_care"]


def _no_contacts(value: list[Contact]) -> bool:
    return not value


class CanonicalRecord(BaseModel):
    """Identity plus the facts of the agency that sent it, with provenance."""

    model_config = ConfigDict(extra="forbid")

    provenance: Provenance
    agency: Agency
    identity: ChildIdentity
    education: EducationFacts | None = None
    health: HealthFacts | None = None
    social_care: SocialCareFacts | None = None
    # Real contacts with the child this record shows (``gateway.model.contact``); left out of
    # the record's JSON when there are none, so records of sources without contacts keep
    # their content (and hash).
    contacts: list[Contact] = Field(default_factory=list, exclude_if=_no_contacts)
