"""The canonical model: what every source is mapped into (pydantic)."""

from gateway.model.contact import Contact
from gateway.model.education import (
    EducationFacts,
    EheRegistration,
    MissingEducation,
    SchoolEnrolment,
)
from gateway.model.health import HealthFacts
from gateway.model.identity import Address, ChildIdentity, PreviousName, Sex
from gateway.model.provenance import Provenance
from gateway.model.record import Agency, CanonicalRecord
from gateway.model.social_care import Episode, SocialCareFacts

__all__ = [
    "Address",
    "Agency",
    "CanonicalRecord",
    "ChildIdentity",
    "Contact",
    "EducationFacts",
    "EheRegistration",
    "Episode",
    "HealthFacts",
    "MissingEducation",
    "PreviousName",
    "Provenance",
    "SchoolEnrolment",
    "Sex",
    "SocialCareFacts",
]
