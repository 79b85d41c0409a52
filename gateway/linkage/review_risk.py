"""What a reviewer must be told first about a possible match: its conflicts, in words.

A pair may carry five conflicts, most dangerous first:

- **twin-shaped**: the same birth date and the same family name or home, but first names that
  are not one name (``resolution.possible_twins``, the rule linkage itself queues twins by);
- **identifier conflict**: linkage queued it because an identifier both records share is
  contradicted by their demographics (``link_review.conflict``, written by linkage);
- **invalid check digit**: a record carries an NHS number that fails its Modulus 11 check, so
  the number was not compared at all (its weight is nothing, not evidence of one child);
- **different first names**: the first names are not one name, a short form or a misspelling
  (``corroboration.forenames_agree``);
- **different birth dates**: further apart than a typo, a swap or a default date explains
  (``corroboration.birth_dates_agree``): siblings with similar names look like this.

Accepting a pair with any conflict takes two reviewers (``review.accept``); a twin-shaped pair
is never shown with a bare probability. Each finding names fields, never their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gateway.identifiers import compact_nhs_number, compact_upn, is_valid_nhs_number, is_valid_upn
from gateway.linkage.corroboration import birth_dates_agree, forenames_agree
from gateway.linkage.levels import DECIDERS, SAYS
from gateway.linkage.probabilistic import PersonRow, person_from_identity
from gateway.linkage.resolution import possible_twins
from gateway.linkage.spec import Compared

ConflictKind = Literal[
    "twin_shaped",
    "identifier_conflict",
    "invalid_check_digit",
    "different_forenames",
    "different_birth_dates",
]
# How much each conflict adds to a pair's risk (the queue puts the riskiest first).
RISK: dict[ConflictKind, int] = {
    "twin_shaped": 8,
    "identifier_conflict": 4,
    "invalid_check_digit": 2,
    "different_forenames": 1,
    "different_birth_dates": 1,
}
TWINS = "these look like twins: same birth date and {household}, different first names"
MIN_SECOND_LOOK_REASON = 10  # characters: accepting a conflicting pair needs a real reason


@dataclass(frozen=True)
class Conflict:
    kind: ConflictKind
    says: str


@dataclass(frozen=True)
class Assessment:
    """A pair's conflicts (riskiest first) and, per comparison, the level the model reached
    in words (``levels.SAYS``; absent where either record lacks the field)."""

    conflicts: tuple[Conflict, ...] = ()
    findings: dict[str, str] | None = None

    @property
    def twin_shaped(self) -> bool:
        return any(c.kind == "twin_shaped" for c in self.conflicts)

    @property
    def invalid_check_digit(self) -> bool:
        return any(c.kind == "invalid_check_digit" for c in self.conflicts)

    @property
    def risk(self) -> int:
        return sum(RISK[c.kind] for c in self.conflicts)

    @property
    def needs_second_reviewer(self) -> bool:
        return bool(self.conflicts)


def assess(
    left: dict[str, Any] | None, right: dict[str, Any] | None, conflict: str | None
) -> Assessment:
    """The conflicts of a pair from both records' canonical identities (``None`` for a record
    that is not held) and linkage's own note of an identifier conflict."""
    found: list[Conflict] = []
    findings: dict[str, str] = {}
    if left is not None and right is not None:
        a, b = person_row(left, "left"), person_row(right, "right")
        twins = possible_twins(a, b)
        if twins:
            household = "family name" if a.family_name == b.family_name else "home"
            said = TWINS.format(household=household)
            if a.given_name is None or b.given_name is None:
                said = said.replace("different first names", "a first name missing")
            found.append(Conflict("twin_shaped", said))
        if conflict:
            found.append(Conflict("identifier_conflict", f"linkage held this pair: {conflict}"))
        invalid = [side for side, who in (("left", left), ("right", right)) if _bad_nhs(who)]
        if invalid:
            which = "both records" if len(invalid) == 2 else f"the {invalid[0]} record"
            found.append(
                Conflict(
                    "invalid_check_digit",
                    f"the NHS number on {which} fails its check digit: it was not compared",
                )
            )
        # Twins' first names differ by definition: said once, as twins.
        if a.given_name and b.given_name and not twins and not forenames_agree(a, b):
            found.append(Conflict("different_forenames", "different first names"))
        if a.birth_date and b.birth_date and not birth_dates_agree(a, b):
            found.append(
                Conflict(
                    "different_birth_dates",
                    "different birth dates, further apart than a typo: siblings look like this",
                )
            )
        findings = _findings(a, b)
    elif conflict:
        found.append(Conflict("identifier_conflict", f"linkage held this pair: {conflict}"))
    found.sort(key=lambda c: -RISK[c.kind])
    return Assessment(tuple(found), findings)


def weight_words(weight: float | None) -> str:
    """A match weight said in words: which way it points and how hard (never "+0.00")."""
    if weight is None:
        return "not compared: missing on one record"
    if abs(weight) < 0.05:
        return "no evidence either way"
    size = abs(weight)
    strength = (
        "very strong" if size >= 6 else "strong" if size >= 3 else "some" if size >= 1 else "weak"
    )
    times = 2.0**size
    likelier = f"{times:,.0f} times" if times >= 10 else f"{times:,.1f} times"
    if weight > 0:
        return f"{strength} evidence of one child ({likelier} likelier)"
    return f"{strength} evidence of two children ({likelier} likelier)"


def person_row(identity: dict[str, Any], side: str = "") -> PersonRow:
    """A record's identity as the model compares it: identifiers only where they pass their
    checks."""
    nhs = compact_nhs_number(str(identity.get("nhs_number") or ""))
    upn = compact_upn(str(identity.get("upn") or ""))
    return person_from_identity(
        (side, ""),
        identity,
        nhs if is_valid_nhs_number(nhs) else None,
        upn if is_valid_upn(upn) else None,
    )


def _bad_nhs(identity: dict[str, Any]) -> bool:
    held = identity.get("nhs_number")
    return bool(held) and not is_valid_nhs_number(compact_nhs_number(str(held)))


def _findings(a: PersonRow, b: PersonRow) -> dict[str, str]:
    """What the model's own comparison levels say of this pair (the null level left out)."""
    left, right = Compared.of(a), Compared.of(b)
    said = {}
    for name, decide in DECIDERS.items():
        level = decide(left, right)
        if level:
            said[name] = SAYS[name][level]
    return said
