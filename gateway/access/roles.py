"""The roles a user of the gateway can hold (codes used in tokens, agreements and the audit)."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "ehe_officer": "EHE officer",
    "social_worker": "Social worker",
    "health_practitioner": "Health practitioner",
    "data_engineer": "Data engineer",
    "ig_officer": "IG officer",
    "admin": "Administrator",
}
