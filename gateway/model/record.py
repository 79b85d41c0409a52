"""The canonical record: one agency's record of one child, in one shape for every source."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from gateway.model.education import EducationFacts
from gateway.model.health import HealthFacts
from gateway.model.identity import ChildIdentity
from gateway.model.provenance import Provenance
from gateway.model.social_care import SocialCareFacts

Agency = Literal["education", "health", "social_care"]


class CanonicalRecord(BaseModel):
    """Identity plus the facts of the agency that sent it, with provenance."""

    model_config = ConfigDict(extra="forbid")

    provenance: Provenance
    agency: Agency
    identity: ChildIdentity
    education: EducationFacts | None = None
    health: HealthFacts | None = None
    social_care: SocialCareFacts | None = None
