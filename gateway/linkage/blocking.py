"""Blocking keys: what a record shares with the records it could be linked to.

One key per identifier rule (valid NHS number, UPN, agency-local id, an HL7 A40 merge) and one
per Splink blocking rule of ``linkage_settings`` (birth date; forename and surname; postcode and
initial; surname with birth date or its day/month swap; surname and birth month; forename and
birth year). Two records that any rule or blocking rule would compare share a key, so an
incremental run finds every candidate neighbour of a new record by an indexed lookup.
"""

from __future__ import annotations

from gateway.linkage.clustering import LinkCandidate
from gateway.linkage.names import canonical_forename
from gateway.linkage.probabilistic import PersonRow

RULE_PREFIXES = ("n:", "u:", "l:", "m:")  # keys of the identifier rules (not Splink blocking)
MAX_KEY = 300


def blocking_keys(candidate: LinkCandidate, person: PersonRow) -> set[str]:
    keys = _rule_keys(candidate)
    given, family, born = person.given_name, person.family_name, person.birth_date
    canonical = canonical_forename(given)
    swapped = f"{born[:4]}-{born[8:10]}-{born[5:7]}" if born and len(born) == 10 else None
    parts: list[tuple[str | None, ...]] = [
        ("d", born),
        ("g", canonical, family),
        ("p", person.postcode, given[:1] if given else None),
        ("s", family, born),
        ("s", family, swapped),
        ("f", family, born[:7] if born else None),
        ("y", canonical, born[:4] if born else None),
    ]
    for prefix, *values in parts:
        if all(values):
            keys.add(f"{prefix}:" + "|".join(v for v in values if v))
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
