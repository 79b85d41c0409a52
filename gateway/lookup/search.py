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
from sqlalchemy import Connection, Text, and_, bindparam, cast, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from gateway.identifiers import normalise_postcode
from gateway.linkage.blocking import blocking_keys
from gateway.linkage.clustering import LinkCandidate
from gateway.linkage.levels import Compared
from gateway.linkage.match_weights import MatchWeights, Weighed, current_weights
from gateway.linkage.probabilistic import LOWER, UPPER, PersonRow, person_from_identity
from gateway.lookup import search_rules
from gateway.lookup.search_rules import Strength
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
        description="what it added to the score: under the linkage model a match weight (log2 "
        "of how much likelier the finding is for the same child than for two); else the fixed "
        "weight"
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
    """A record that scored: its score, probability (model only), and what its ranking needs
    to say why (put into words only for the children shown)."""

    score: float
    probability: float | None
    detail: Any


def _identity(dialect: str) -> Any:
    record = SourceRecord.__table__.c
    if dialect == "postgresql":
        return cast(record.payload.op("->")(literal("identity")), Text)
    return func.json_extract(record.payload, "$.identity")


def _candidates_query(dialect: str, *, by_keys: bool) -> Any:
    """Current records sharing one of the keys (each once, however many it shares), or born
    on one of the dates: source, record id, identity JSON text, and whether the record is
    restricted (its own label or its child's verdict: a restricted record is never scored on
    where the child lives). Which child each is linked to is asked afterwards, of the few that
    score."""
    record, key = SourceRecord.__table__.c, LinkKey.__table__.c
    link, child = Link.__table__.c, Child.__table__.c
    restricted = or_(record.restricted.is_(True), func.coalesce(child.restricted, False))
    query = (
        select(record.source, record.record_id, _identity(dialect), restricted)
        .select_from(SourceRecord.__table__)
        .outerjoin(
            Link.__table__,
            and_(
                link.source == record.source,
                link.record_id == record.record_id,
                link.state == "MATCH",
            ),
        )
        .outerjoin(Child.__table__, child.child_id == link.child_id)
        .where(record.is_current.is_(True))
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


def _linked_query() -> Any:
    """For each record that scored: the child it is linked to (a MATCH; children merged into
    another left out) and the agency of each current record of that child."""
    scored = Link.__table__.alias("scored")
    link, record, child = Link.__table__.c, SourceRecord.__table__.c, Child.__table__.c
    return (
        select(scored.c.source, scored.c.record_id, scored.c.child_id, record.agency)
        .select_from(scored)
        .join(Child.__table__, child.child_id == scored.c.child_id)
        .join(Link.__table__, link.child_id == scored.c.child_id)
        .join(
            SourceRecord.__table__,
            and_(record.source == link.source, record.record_id == link.record_id),
        )
        .where(
            tuple_(scored.c.source, scored.c.record_id).in_(bindparam("records", expanding=True))
        )
        .where(scored.c.state == "MATCH", child.merged_into.is_(None))
        .where(link.state == "MATCH", record.is_current.is_(True))
    )


_LINKED = _linked_query()


def search_children(session: Session, query: Demographics, limit: int = 10) -> list[Candidate]:
    """The best ``limit`` children for these demographics, strongest first.

    One indexed read of the current records sharing a blocking key with the query (widened to
    every record born on the date, or with day and month swapped, if none of those scores);
    a second small read, of the best records that scored, for their children (not those
    merged into another) and the agencies that know them.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    weights = current_weights()
    rank = _ModelRanking(query, weights) if weights else _RuleRanking(query)
    keys = _search_keys(rank.asked_row)
    found: dict[str, _Found] = {}
    known_to: dict[str, set[str]] = {}
    if keys:
        scored = rank.records(connection.execute(_BY_KEYS[dialect], {"keys": keys}))
        found, known_to = _children(connection, scored, limit)
    if not found:
        dates = [d for d in (query.birth_date, search_rules.swapped(query.birth_date)) if d]
        scored = rank.records(connection.execute(_BY_DATES[dialect], {"dates": dates}))
        found, known_to = _children(connection, scored, limit)
    ranked = sorted(found.items(), key=lambda item: (-item[1].score, item[0]))
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


def _children(
    connection: Connection, scored: dict[tuple[str, str], _Found], limit: int
) -> tuple[dict[str, _Found], dict[str, set[str]]]:
    """The best record of each of the ``limit`` best children among the records that scored,
    and each child's agencies. Records are asked about best first, a few at a time, until
    ``limit`` children are known and the next record scores below all of them."""
    ordered = sorted(scored, key=lambda key: -scored[key].score)
    best: dict[str, _Found] = {}
    known_to: dict[str, set[str]] = {}
    for start in range(0, len(ordered), 2 * limit):
        part = ordered[start : start + 2 * limit]
        for source, record_id, child_id, agency in connection.execute(_LINKED, {"records": part}):
            found = scored[(source, record_id)]
            if child_id not in best or found.score > best[child_id].score:
                best[child_id] = found
            known_to.setdefault(child_id, set()).add(agency)
        rest = ordered[start + 2 * limit : start + 2 * limit + 1]
        if len(best) >= limit and (
            not rest or scored[rest[0]].score < sorted(f.score for f in best.values())[-limit]
        ):
            break
    return best, known_to


def _placeless(identity: dict[str, Any]) -> dict[str, Any]:
    """A restricted record's identity without where the child lives: a search never scores on
    what it may not show (else guessing postcodes would find where a hidden child lives)."""
    return {**identity, "addresses": []}


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

    def records(self, rows: Iterable[Any]) -> dict[tuple[str, str], _Found]:
        """The records scoring at least ``MIN_PROBABILITY``."""
        scored: dict[tuple[str, str], _Found] = {}
        weighed: dict[tuple[str, bool], tuple[Weighed, str]] = {}  # a child's agencies agree
        for source, record_id, identity_json, restricted in rows:
            found = weighed.get((identity_json, restricted))
            if found is None:
                identity = from_json(identity_json or "null") or {}
                found = self._weigh(_placeless(identity) if restricted else identity)
                weighed[(identity_json, restricted)] = found
            if found[0].probability >= MIN_PROBABILITY:
                scored[(source, record_id)] = _Found(found[0].weight, found[0].probability, found)
        return scored

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
        self.rules = search_rules.RuleQuery.of(self.asked_row)

    def records(self, rows: Iterable[Any]) -> dict[tuple[str, str], _Found]:
        """The records scoring at least ``search_rules.MIN_SCORE``."""
        scored: dict[tuple[str, str], _Found] = {}
        for source, record_id, identity_json, restricted in rows:
            identity = from_json(identity_json or "null") or {}
            rule_score = self.rules.score(_placeless(identity) if restricted else identity)
            if rule_score.score >= search_rules.MIN_SCORE:
                scored[(source, record_id)] = _Found(rule_score.score, None, rule_score.reasons)
        return scored

    @staticmethod
    def reasons(found: _Found) -> list[tuple[str, str, float]]:
        return list(found.detail)

    @staticmethod
    def strength(found: _Found) -> Strength:
        return search_rules.strength(found.score)
