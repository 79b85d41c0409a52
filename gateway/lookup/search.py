"""Find a child by demographics: candidates ranked by the linkage model, with why each matched.

Which records are candidates: those sharing a blocking key with the query in ``link_key``, as
the last link run stored them (the birth date in either day/month order with the family name,
with the forename, or with both initials): the records linkage itself would compare the query
with, found by an indexed lookup. Only if none of them scores does the search widen to every
record born on the date or with day and month swapped (a slower read: a few hundred records
per date in a million children).

How they are ranked: by the newest trained linkage model, scoring the query as linkage would
score it against each record (``gateway.linkage.match_weights``: the model's match weights
applied in Python, never Splink per request); the best record of each child stands for the
child, with its match weight (``score``), match probability and each comparison's part in it.
Where no model has been trained (or the newest is not one this code can read), the fixed field
weights of ``search_rules`` rank instead, and every candidate says which ranked it
(``ranked_by``).

The answer carries child ids, scores and reasons, never the names, dates or identifiers of the
records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_core import from_json
from sqlalchemy import Text, and_, bindparam, cast, func, literal, select, tuple_
from sqlalchemy.orm import Session

from gateway.identifiers import normalise_postcode
from gateway.linkage.blocking import blocking_keys
from gateway.linkage.clustering import LinkCandidate
from gateway.linkage.levels import Compared
from gateway.linkage.match_weights import MatchWeights, Weighed, current_weights
from gateway.linkage.probabilistic import LOWER, UPPER, PersonRow, person_from_identity
from gateway.lookup import search_rules
from gateway.lookup.search_rules import Strength
from gateway.model import ChildIdentity
from gateway.store.tables import Child, Link, LinkKey, SourceRecord

MIN_PROBABILITY = 0.05  # a candidate the model puts below this is not shown
SEARCH_KEYS = ("df:", "dg:", "di:")  # the blocking keys a search looks up (birth date + names)


class Demographics(BaseModel):
    given_name: str | None = Field(None, max_length=80)
    family_name: str = Field(min_length=1, max_length=80)
    birth_date: date
    postcode: str | None = Field(None, max_length=10)
    sex: Literal["female", "male", "unknown"] | None = None


class Reason(BaseModel):
    comparison: str = Field(description="prior, given_name, family_name, birth_date, sex or place")
    says: str = Field(description="what the comparison found, never the values compared")
    weight: float = Field(
        description="what it added to the score: a match weight (log2 of how much likelier "
        "the finding is for the same child than for two) under the linkage model"
    )


class Candidate(BaseModel):
    child_id: str
    score: float = Field(
        description="the match weight under the linkage model (the prior plus every reason's "
        "weight); the fixed-weight score where no model is trained"
    )
    match_probability: float | None = Field(
        description="under the linkage model; null where no model is trained"
    )
    strength: Strength = Field(
        description="strong: linkage would link automatically; possible: it would ask a "
        "reviewer; weak: below both"
    )
    ranked_by: str = Field(description="the linkage model's version, or the fixed weights")
    why: list[str]
    reasons: list[Reason]
    known_to: list[str]


@dataclass(frozen=True)
class _Found:
    """The best record of one child: its score, probability (model only), and what its
    ranking needs to say why (worked out only for the children shown)."""

    score: float
    probability: float | None
    detail: Any


def _identity(dialect: str) -> Any:
    record = SourceRecord.__table__.c
    if dialect == "postgresql":
        return cast(record.payload.op("->")(literal("identity")), Text)
    return func.json_extract(record.payload, "$.identity")


def _candidates_query(dialect: str, *, by_keys: bool) -> Any:
    """Current linked records sharing one of the keys (each once, however many it shares), or
    born on one of the dates: child, agency, identity JSON text."""
    link, record, key = Link.__table__.c, SourceRecord.__table__.c, LinkKey.__table__.c
    query = (
        select(link.child_id, record.agency, _identity(dialect))
        .select_from(Link.__table__)
        .join(
            SourceRecord.__table__,
            and_(link.source == record.source, link.record_id == record.record_id),
        )
        .where(record.is_current.is_(True), link.state == "MATCH")
    )
    if by_keys:
        sharing = select(key.source, key.record_id).where(
            key.key.in_(bindparam("keys", expanding=True))
        )
        return query.where(tuple_(record.source, record.record_id).in_(sharing))
    return query.where(record.birth_date.in_(bindparam("dates", expanding=True)))


# Built once (per dialect): SQLAlchemy finds the compiled form by the statement's memoised key.
_BY_KEYS = {d: _candidates_query(d, by_keys=True) for d in ("postgresql", "sqlite")}
_BY_DATES = {d: _candidates_query(d, by_keys=False) for d in ("postgresql", "sqlite")}


def _agencies_query() -> Any:
    """The agencies holding current records of the children, for those not merged away."""
    link, record, child = Link.__table__.c, SourceRecord.__table__.c, Child.__table__.c
    return (
        select(link.child_id, record.agency)
        .distinct()
        .select_from(Link.__table__)
        .join(
            SourceRecord.__table__,
            and_(link.source == record.source, link.record_id == record.record_id),
        )
        .join(Child.__table__, child.child_id == link.child_id)
        .where(link.child_id.in_(bindparam("ids", expanding=True)))
        .where(record.is_current.is_(True), link.state == "MATCH")
        .where(child.merged_into.is_(None))
    )


_AGENCIES = _agencies_query()


def search_children(session: Session, query: Demographics, limit: int = 10) -> list[Candidate]:
    """The best ``limit`` children for these demographics, strongest first.

    One indexed read of the records sharing a blocking key with the query (widened to every
    record born on the date, or with day and month swapped, if none of those scores); a second
    small read of the agencies that know the children that scored, which also drops those
    merged into another child.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    weights = current_weights()
    rank = _ModelRanking(query, weights) if weights else _RuleRanking(query)
    keys = _search_keys(rank.asked_row)
    found = rank.children(connection.execute(_BY_KEYS[dialect], {"keys": keys})) if keys else {}
    if not found:
        dates = [d for d in (query.birth_date, search_rules.swapped(query.birth_date)) if d]
        found = rank.children(connection.execute(_BY_DATES[dialect], {"dates": dates}))
    if not found:
        return []
    known_to: dict[str, set[str]] = {}
    for child_id, agency in connection.execute(_AGENCIES, {"ids": list(found)}):
        known_to.setdefault(child_id, set()).add(agency)
    ranked = sorted(
        ((c, f) for c, f in found.items() if c in known_to), key=lambda i: (-i[1].score, i[0])
    )
    shown = []
    for child_id, best in ranked[:limit]:
        reasons = rank.reasons(best)
        shown.append(
            Candidate(
                child_id=child_id,
                score=round(best.score, 2),
                match_probability=None if best.probability is None else round(best.probability, 4),
                strength=rank.strength(best),
                ranked_by=rank.name,
                why=[says for comparison, says, _ in reasons if comparison != "prior"],
                reasons=[Reason(comparison=c, says=s, weight=round(w, 2)) for c, s, w in reasons],
                known_to=sorted(known_to[child_id]),
            )
        )
    return shown


def _asked_row(query: Demographics) -> PersonRow:
    """The query as linkage would read it as a record (an unknown sex tells nothing)."""
    identity = {
        "given_name": query.given_name,
        "family_name": query.family_name,
        "birth_date": query.birth_date.isoformat(),
        "sex": None if query.sex == "unknown" else query.sex,
        "addresses": [{"postcode": normalise_postcode(query.postcode)}] if query.postcode else [],
    }
    return person_from_identity(("search", ""), identity, None, None)


def _search_keys(row: PersonRow) -> list[str]:
    keys = blocking_keys(LinkCandidate("search", "", None, None), row)
    return sorted(key for key in keys if key.startswith(SEARCH_KEYS))


class _ModelRanking:
    """The linkage model's match weights, query against each record."""

    def __init__(self, query: Demographics, weights: MatchWeights) -> None:
        self.asked_row = _asked_row(query)
        self.weigh = weights.weigher(Compared.of(self.asked_row))
        self.weights = weights
        self.name = f"linkage model {weights.model}"

    def children(self, rows: Iterable[Any]) -> dict[str, _Found]:
        """Each child's best-scoring record, if it scores at least ``MIN_PROBABILITY``."""
        best: dict[str, tuple[Weighed, str]] = {}
        weighed: dict[str, tuple[Weighed, str]] = {}  # a child's agencies often agree
        for child_id, _, identity_json in rows:
            found = weighed.get(identity_json)
            if found is None:
                found = self._weigh(from_json(identity_json or "null") or {})
                weighed[identity_json] = found
            if child_id not in best or found[0].weight > best[child_id][0].weight:
                best[child_id] = found
        return {
            child_id: _Found(weighed.weight, weighed.probability, (weighed, former))
            for child_id, (weighed, former) in best.items()
            if weighed.probability >= MIN_PROBABILITY
        }

    def _weigh(self, identity: dict[str, Any]) -> tuple[Weighed, str]:
        """The record's match weight, or a former family name's where that is higher (and
        then what to add to the family name's reason)."""
        row = person_from_identity(("record", ""), identity, None, None)
        weighed = self.weigh(Compared.of(row))
        former = ""
        for earlier in identity.get("previous_names") or []:
            family = (earlier.get("family_name") or "").strip().lower()
            if family and family != row.family_name:
                other = self.weigh(Compared.of(replace(row, family_name=family)))
                if other.weight > weighed.weight:
                    weighed, former = other, " (a former family name)"
        return weighed, former

    def reasons(self, found: _Found) -> list[tuple[str, str, float]]:
        weighed, former = found.detail
        reasons = [("prior", "the model's odds for any one record", self.weights.prior)]
        for part in weighed.contributions:
            said = part.says + (former if part.comparison == "family_name" else "")
            reasons.append((part.comparison, said, part.weight))
        return reasons

    @staticmethod
    def strength(found: _Found) -> Strength:
        probability = found.probability or 0.0
        if probability >= UPPER:
            return "strong"
        return "possible" if probability >= LOWER else "weak"


class _RuleRanking:
    """The fixed field weights, where no linkage model is trained."""

    name = "fixed field weights (no trained linkage model)"

    def __init__(self, query: Demographics) -> None:
        self.asked_row = _asked_row(query)
        self.rules = search_rules.RuleQuery.of(query)

    def children(self, rows: Iterable[Any]) -> dict[str, _Found]:
        best: dict[str, _Found] = {}
        for child_id, _, identity_json in rows:
            identity = ChildIdentity.model_validate_json(identity_json or "{}")
            scored = self.rules.score(identity)
            if child_id not in best or scored.score > best[child_id].score:
                best[child_id] = _Found(scored.score, None, scored.reasons)
        return {c: f for c, f in best.items() if f.score >= search_rules.MIN_SCORE}

    @staticmethod
    def reasons(found: _Found) -> list[tuple[str, str, float]]:
        return list(found.detail)

    @staticmethod
    def strength(found: _Found) -> Strength:
        return search_rules.strength(found.score)
