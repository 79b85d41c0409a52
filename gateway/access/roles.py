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

# Pages and exports that are not lookups of one child, so no data-sharing agreement covers
# them: who may use them is a role decision made here, once, for the API and the web pages.
# (Who may look a child up or see the caseload is the agreements' decision, not a role list.)
IG_ROLES: frozenset[str] = frozenset({"ig_officer"})
SUBJECT_ACCESS_ROLES: frozenset[str] = IG_ROLES
# The partnership assurance report (counts only): IG officers, who also give it to partnership
# leads; a partnership lead who uses the service is given the IG officer role.
ASSURANCE_ROLES: frozenset[str] = IG_ROLES
# A point-in-time replay shows what the index held and who was shown what (practice reviews).
REPLAY_ROLES: frozenset[str] = IG_ROLES
REVIEW_QUEUE_ROLES: frozenset[str] = frozenset(
    {"ehe_officer", "data_engineer", "ig_officer", "admin"}
)
# Opening a possible match shows both records' identifying values, and deciding it joins or
# parts children: identity resolution is the data engineers' job (administrators stand in).
# The other queue roles see the ranked list only (source, record ids, weights; no values).
REVIEW_DECISION_ROLES: frozenset[str] = frozenset({"data_engineer", "admin"})
