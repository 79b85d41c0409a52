"""Fixed field weights for demographic search where no linkage model has been trained.

The fallback ranking (``search.search_children`` uses the linkage model's weights once one is
trained): agreement on a field adds a fixed amount and disagreement subtracts one, in the
spirit of the model's comparisons but not learnt from the index. Each counted field is a
reason with its weight.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from gateway.lookup.search import Demographics
    from gateway.model import ChildIdentity

SIMILAR = 0.85
MIN_SCORE = 4.0  # shown from here
STRONG, POSSIBLE = 12.0, 8.0
Strength = Literal["strong", "possible", "weak"]


@dataclass
class RuleScore:
    """A record's score and, per counted field, what it showed and what it added."""

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


@functools.lru_cache(maxsize=65_536)
def _norm(value: str | None) -> str:
    """Lower case, letters and digits only (names repeat, so the answers are kept)."""
    if not value:
        return ""
    if value.isalnum():
        return value.lower()
    return "".join(ch for ch in value.lower() if ch.isalnum())


def _similar(a: str, b: str) -> bool:
    """``SequenceMatcher(None, a, b).ratio() >= SIMILAR``, after two cheap upper bounds on
    that ratio (difflib's ``real_quick_ratio`` and ``quick_ratio``: the lengths, then the
    letters in common), which turn most pairs away before a matcher is built."""
    if not (a and b):
        return False
    needed = SIMILAR * (len(a) + len(b)) / 2  # matching letters the ratio needs
    if min(len(a), len(b)) < needed:
        return False
    if sum(min(a.count(c), b.count(c)) for c in set(a).intersection(b)) < needed:
        return False
    return SequenceMatcher(None, a, b).ratio() >= SIMILAR


@dataclass(frozen=True)
class RuleQuery:
    """The query with its names and postcode normalised once."""

    query: Demographics
    family: str
    given: str
    postcode: str
    swapped_date: date | None

    @classmethod
    def of(cls, query: Demographics) -> RuleQuery:
        return cls(
            query,
            _norm(query.family_name),
            _norm(query.given_name),
            _norm(query.postcode),
            swapped(query.birth_date),
        )

    def score(self, identity: ChildIdentity) -> RuleScore:
        """Agreement weights per field, with a reason for each that counted."""
        query = self.query
        scored = RuleScore()
        _birth_date(scored, query.birth_date, self.swapped_date, identity.birth_date)
        _family_name(scored, self.family, identity)
        if query.given_name:
            _given_name(scored, self.given, identity)
        if query.postcode:
            _postcode(scored, self.postcode, identity.current_postcode)
        if query.sex and identity.sex and "unknown" not in (query.sex, identity.sex):
            agree = query.sex == identity.sex
            scored.add("sex", "sex agrees" if agree else "sex differs", 0.5 if agree else -2.0)
        return scored


def strength(score: float) -> Strength:
    if score >= STRONG:
        return "strong"
    return "possible" if score >= POSSIBLE else "weak"


def _birth_date(scored: RuleScore, wanted: date, other: date | None, held: date | None) -> None:
    if held == wanted:
        scored.add("birth_date", "birth date matches", 5)
    elif held is not None and held == other:
        scored.add("birth_date", "birth date matches with day and month swapped", 3)


def _family_name(scored: RuleScore, asked: str, identity: ChildIdentity) -> None:
    held = _norm(identity.family_name)
    former = {_norm(p.family_name) for p in identity.previous_names if p.family_name}
    if asked == held:
        scored.add("family_name", "family name matches", 4)
    elif asked in former:
        scored.add("family_name", "family name matches a former family name", 3)
    elif _similar(asked, held):
        scored.add("family_name", "family name is similar (a likely misspelling)", 2)
    else:
        scored.add("family_name", "family name differs", -3)


def _given_name(scored: RuleScore, asked: str, identity: ChildIdentity) -> None:
    held = _norm(identity.given_name)
    if asked == held:
        scored.add("given_name", "given name matches", 4)
    elif _similar(asked, held) or (len(asked) >= 3 and held.startswith(asked)):
        scored.add("given_name", "given name is similar or a short form", 2)
    elif asked[:1] == held[:1] and asked:
        scored.add("given_name", "given name has the same initial", 0.5)
    else:
        scored.add("given_name", "given name differs", -2)


def _postcode(scored: RuleScore, asked: str, held: str | None) -> None:
    have = _norm(held)
    if not have:
        return
    if asked == have:
        scored.add("place", "postcode matches", 3)
    elif asked[:-3] and asked[:-3] == have[:-3]:
        scored.add("place", "postcode district matches", 1)
