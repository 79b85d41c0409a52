"""Blocking keys: what a record shares with the records it could be linked to.

One key per identifier rule (valid NHS number, UPN, agency-local id, an HL7 A40 merge) and one
per blocking rule of the specification (``spec.BLOCKING``, which Splink predicts with too). Two
records that any rule or blocking rule would compare share a key, so an incremental run finds
every candidate neighbour of a new record by an indexed lookup.
"""

from __future__ import annotations

from gateway.linkage.clustering import LinkCandidate
from gateway.linkage.probabilistic import PersonRow
from gateway.linkage.spec import blocking_keys_of

RULE_PREFIXES = ("n:", "u:", "l:", "m:")  # keys of the identifier rules (not Splink blocking)
MAX_KEY = 300
# Stored with the link mark: keys written under other rules cannot be looked up with these, so
# a change here (or in ``spec.BLOCKING``) makes the next run a full one.
KEYS_VERSION = "keys5"


def blocking_keys(candidate: LinkCandidate, person: PersonRow) -> set[str]:
    keys = _rule_keys(candidate) | blocking_keys_of(person)
    return {key[:MAX_KEY] for key in keys}


def _rule_keys(candidate: LinkCandidate) -> set[str]:
    keys = {f"m:{candidate.source}|{candidate.record_id}"}
    if candidate.merged_into:
        keys.add(f"m:{candidate.source}|{candidate.merged_into}")
    if candidate.nhs_number:
        keys.add(f"n:{candidate.nhs_number}")
    if candidate.upn:
        keys.add(f"u:{candidate.upn}")
    keys.update(f"l:{namespace}|{value}" for namespace, value in candidate.local_ids)
    return keys


def is_rule_key(key: str) -> bool:
    return key.startswith(RULE_PREFIXES)
