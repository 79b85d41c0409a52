"""Find a child by demographics: candidates ranked by field comparisons, with why each matched.

Candidates come from current source records with the given birth date, or with its day and
month swapped (a common slip). Each is scored by per-field agreement weights in the spirit of
the linkage model's comparisons (Fellegi-Sunter: agreement adds, disagreement subtracts), and
the best record per child stands for the child. The answer carries child ids, scores and
reasons, never the names, dates or identifiers of the records.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Text, and_, bindparam, cast, func, literal, select
from sqlalchemy.orm import Session

from gateway.model import ChildIdentity
from gateway.store.tables import Child, Link, SourceRecord

SIMILAR = 0.85
MIN_SCORE = 4.0


class Demographics(BaseModel):
    given_name: str | None = Field(None, max_length=80)
    family_name: str = Field(min_length=1, max_length=80)
    birth_date: date
    postcode: str | None = Field(None, max_length=10)
    sex: Literal["female", "male", "unknown"] | None = None


class Candidate(BaseModel):
    child_id: str
    score: float
    strength: Literal["strong", "possible", "weak"]
    why: list[str]
    known_to: list[str]


@dataclass
class _Scored:
    score: float
    why: list[str]


def swapped(day_first: date) -> date | None:
    """The date with day and month exchanged, if that is a different, real date."""
    try:
        other = day_first.replace(month=day_first.day, day=day_first.month)
    except ValueError:
        return None
    return other if other != day_first else None


def _candidates_query(dialect: str) -> Any:
    """Current linked records born on one of the dates: child, agency, identity JSON text.

    Whether the child was merged away is asked afterwards, of the few children that scored.
    """
    link, record = Link.__table__.c, SourceRecord.__table__.c
    identity = (
        cast(record.payload.op("->")(literal("identity")), Text)
        if dialect == "postgresql"
        else func.json_extract(record.payload, "$.identity")
    )
    return (
        select(link.child_id, record.agency, identity)
        .select_from(Link.__table__)
        .join(
            SourceRecord.__table__,
            and_(link.source == record.source, link.record_id == record.record_id),
        )
        .where(record.birth_date.in_(bindparam("dates", expanding=True)))
        .where(record.is_current.is_(True), link.state == "MATCH")
    )


# Built once (per dialect): SQLAlchemy finds the compiled form by the statement's memoised key.
_CANDIDATES = {name: _candidates_query(name) for name in ("postgresql", "sqlite")}
_MERGED_AWAY = select(Child.__table__.c.child_id).where(
    Child.__table__.c.child_id.in_(bindparam("ids", expanding=True)),
    Child.__table__.c.merged_into.is_not(None),
)


def search_children(session: Session, query: Demographics, limit: int = 10) -> list[Candidate]:
    """The best ``limit`` children for these demographics, strongest first.

    One indexed query (``source_record.birth_date``) for the records born on the day (or with
    day and month swapped), bringing only each record's identity as JSON text (validated by
    pydantic's core straight from it); the query's names are normalised once. A second, small
    query drops the children among those that scored who were merged into another.
    """
    dates = [d for d in (query.birth_date, swapped(query.birth_date)) if d is not None]
    connection = session.connection()
    rows = connection.execute(_CANDIDATES[connection.dialect.name], {"dates": dates})
    asked = _Asked.of(query)
    best: dict[str, _Scored] = {}
    agencies: dict[str, set[str]] = {}
    for child_id, agency, identity_json in rows:
        identity = ChildIdentity.model_validate_json(identity_json or "{}")
        scored = asked.score(identity)
        agencies.setdefault(child_id, set()).add(agency)
        if child_id not in best or scored.score > best[child_id].score:
            best[child_id] = scored
    scoring = [(child_id, scored) for child_id, scored in best.items() if scored.score >= MIN_SCORE]
    if scoring:  # a child merged into another is found as the survivor, not itself
        merged = set(connection.execute(_MERGED_AWAY, {"ids": [c for c, _ in scoring]}).scalars())
        scoring = [(c, scored) for c, scored in scoring if c not in merged]
    ranked = sorted(scoring, key=lambda item: (-item[1].score, item[0]))
    return [
        Candidate(
            child_id=child_id,
            score=round(scored.score, 1),
            strength=_strength(scored.score),
            why=scored.why,
            known_to=sorted(agencies[child_id]),
        )
        for child_id, scored in ranked[:limit]
    ]


def _strength(score: float) -> Literal["strong", "possible", "weak"]:
    if score >= 12:
        return "strong"
    return "possible" if score >= 8 else "weak"


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
class _Asked:
    """The query with its names and postcode normalised once."""

    query: Demographics
    family: str
    given: str
    postcode: str
    swapped_date: date | None

    @classmethod
    def of(cls, query: Demographics) -> _Asked:
        return cls(
            query,
            _norm(query.family_name),
            _norm(query.given_name),
            _norm(query.postcode),
            swapped(query.birth_date),
        )

    def score(self, identity: ChildIdentity) -> _Scored:
        """Agreement weights per field, with a reason for each that counted."""
        query = self.query
        scored = _Scored(0.0, [])
        _birth_date(scored, query.birth_date, self.swapped_date, identity.birth_date)
        _family_name(scored, self.family, identity)
        if query.given_name:
            _given_name(scored, self.given, identity)
        if query.postcode:
            _postcode(scored, self.postcode, identity.current_postcode)
        if query.sex and identity.sex and "unknown" not in (query.sex, identity.sex):
            agree = query.sex == identity.sex
            scored.score += 0.5 if agree else -2.0
            scored.why.append("sex agrees" if agree else "sex differs")
        return scored


def score_identity(query: Demographics, identity: ChildIdentity) -> _Scored:
    """Agreement weights per field, with a reason for each that counted."""
    return _Asked.of(query).score(identity)


def _birth_date(scored: _Scored, wanted: date, other: date | None, held: date | None) -> None:
    if held == wanted:
        scored.score += 5
        scored.why.append("birth date matches")
    elif held is not None and held == other:
        scored.score += 3
        scored.why.append("birth date matches with day and month swapped")


def _family_name(scored: _Scored, asked: str, identity: ChildIdentity) -> None:
    held = _norm(identity.family_name)
    former = {_norm(p.family_name) for p in identity.previous_names if p.family_name}
    if asked == held:
        scored.score += 4
        scored.why.append("family name matches")
    elif asked in former:
        scored.score += 3
        scored.why.append("family name matches a former family name")
    elif _similar(asked, held):
        scored.score += 2
        scored.why.append("family name is similar (a likely misspelling)")
    else:
        scored.score -= 3
        scored.why.append("family name differs")


def _given_name(scored: _Scored, asked: str, identity: ChildIdentity) -> None:
    held = _norm(identity.given_name)
    if asked == held:
        scored.score += 4
        scored.why.append("given name matches")
    elif _similar(asked, held) or (len(asked) >= 3 and held.startswith(asked)):
        scored.score += 2
        scored.why.append("given name is similar or a short form")
    elif asked[:1] == held[:1] and asked:
        scored.score += 0.5
        scored.why.append("given name has the same initial")
    else:
        scored.score -= 2
        scored.why.append("given name differs")


def _postcode(scored: _Scored, asked: str, held: str | None) -> None:
    have = _norm(held)
    if not have:
        return
    if asked == have:
        scored.score += 3
        scored.why.append("postcode matches")
    elif asked[:-3] and asked[:-3] == have[:-3]:
        scored.score += 1
        scored.why.append("postcode district matches")
