"""Fixed weights for demographic search where no linkage model has been trained.

The fallback ranking (``search.search_children`` uses the linkage model's weights once one is
trained). Which level of each comparison a record reaches is decided exactly as the model
decides it: by the level deciders generated from the linkage specification
(``linkage.levels.DECIDERS``: Jaro-Winkler similarity, one edit, a shared formal forename,
names swapped, day and month swapped, as ``linkage.spec`` writes them), and each level is said
in the model's words (``levels.SAYS``). Only the weight of a level is fixed here rather than
learnt from the index: the comparison's full weight (``AGREE``) times the share its kind of
level earns (``SHARE``), or the comparison's penalty (``DIFFERS``) where it differs. Each
counted comparison is a reason with its weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from gateway.linkage.levels import DECIDERS, SAYS
from gateway.linkage.probabilistic import PersonRow, person_from_identity
from gateway.linkage.spec import COMPARISONS, Compared, Else, Level, Null

MIN_SCORE = 4.0  # shown from here
STRONG, POSSIBLE = 12.0, 8.0
Strength = Literal["strong", "possible", "weak"]

# What full agreement on each comparison a search can ask about adds, and what a difference
# takes away (a differing birth date or postcode says little: children move, dates are typed).
AGREE = {"given_name": 4.0, "family_name": 4.0, "birth_date": 5.0, "sex": 0.5, "place": 3.0}
DIFFERS = {"given_name": -2.0, "family_name": -3.0, "birth_date": 0.0, "sex": -2.0, "place": 0.0}
# The share of the full weight each kind of agreeing level (``linkage.spec``'s level classes, by
# name) earns. A kind not named here earns nothing, and a test names it (every kind the
# specification uses must have its share said here).
SHARE: dict[str, float] = {
    "Exact": 1.0,
    "SameAddressNoPostcode": 1.0,
    "SharedForm": 0.75,
    "NamesSwapped": 0.75,
    "DayMonthSwapped": 0.6,
    "OneEdit": 0.5,
    "JaroWinkler": 0.5,
    "SameDistrict": 1 / 3,
    "FirstOfJanuary": 0.25,
    "YearApart": 0.25,
    "SameYear": 0.0,
}


def _weight(comparison: str, level: Level) -> float | None:
    """A level's fixed weight; None for the null level (no evidence: not a reason)."""
    if isinstance(level, Null):
        return None
    if isinstance(level, Else):
        return DIFFERS[comparison]
    return AGREE[comparison] * SHARE.get(type(level).__name__, 0.0)


# Per comparison, each level's fixed weight, generated from the specification's levels.
WEIGHTS: dict[str, tuple[float | None, ...]] = {
    c.name: tuple(_weight(c.name, level) for level in c.levels)
    for c in COMPARISONS
    if c.name in AGREE
}


@dataclass
class RuleScore:
    """A record's score and, per counted comparison, what it showed and what it added."""

    score: float = 0.0
    reasons: list[tuple[str, str, float]] = field(default_factory=list)

    def add(self, comparison: str, says: str, weight: float) -> None:
        self.score += weight
        self.reasons.append((comparison, says, weight))


def swapped(day_first: date) -> date | None:
    """The date with day and month exchanged, if that is a different, real date."""
    try:
        other = day_first.replace(month=day_first.day, day=day_first.month)
    except ValueError:
        return None
    return other if other != day_first else None


def level_of(comparison: str, asked: Compared, held: Compared) -> tuple[int, str, float | None]:
    """The level a record reaches on one comparison (the model's decider), its words and
    its fixed weight."""
    level = DECIDERS[comparison](asked, held)
    return level, SAYS[comparison][level], WEIGHTS[comparison][level]


@dataclass(frozen=True)
class RuleQuery:
    """The query as linkage reads a record, compared once per held record."""

    asked: Compared

    @classmethod
    def of(cls, asked: PersonRow) -> RuleQuery:
        return cls(Compared.of(_sex_known(asked)))

    def score(self, identity: dict[str, Any]) -> RuleScore:
        """Fixed weights per comparison, with a reason for each that counted; a former family
        name counts where it reaches a better level than the current one."""
        row = _sex_known(person_from_identity(("record", ""), identity, None, None))
        held = Compared.of(row)
        scored = RuleScore()
        for comparison in WEIGHTS:
            _, says, weight = level_of(comparison, self.asked, held)
            if comparison == "family_name":
                says, weight = self._best_family_name(identity, row, says, weight)
            if weight is not None:
                scored.add(comparison, says, weight)
        return scored

    def _best_family_name(
        self, identity: dict[str, Any], row: PersonRow, says: str, weight: float | None
    ) -> tuple[str, float | None]:
        for earlier in identity.get("previous_names") or []:
            family = (earlier.get("family_name") or "").strip().lower()
            if not family or family == row.family_name:
                continue
            former = Compared.of(replace(row, family_name=family))
            _, said, other = level_of("family_name", self.asked, former)
            if other is not None and (weight is None or other > weight):
                says, weight = f"{said} (a former family name)", other
        return says, weight


def _sex_known(row: PersonRow) -> PersonRow:
    """A sex recorded as unknown tells nothing either way."""
    return replace(row, sex=None) if row.sex == "unknown" else row


def strength(score: float) -> Strength:
    if score >= STRONG:
        return "strong"
    return "possible" if score >= POSSIBLE else "weak"
