"""Find a child by demographics: candidates ranked by field comparisons, with why each matched.

Candidates come from current source records with the given birth date, or with its day and
month swapped (a common slip). Each is scored by per-field agreement weights in the spirit of
the linkage model's comparisons (Fellegi-Sunter: agreement adds, disagreement subtracts), and
the best record per child stands for the child. The answer carries child ids, scores and
reasons, never the names, dates or identifiers of the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Text, and_, bindparam, cast, select
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


class _Stored(BaseModel):
    """A stored record as search reads it: its identity, validated; the rest skipped."""

    identity: ChildIdentity = Field(default_factory=ChildIdentity)


def _candidates_query() -> Any:
    link, record, child = Link.__table__.c, SourceRecord.__table__.c, Child.__table__.c
    return (
        select(link.child_id, record.agency, cast(record.payload, Text))
        .select_from(Link.__table__)
        .join(
            SourceRecord.__table__,
            and_(link.source == record.source, link.record_id == record.record_id),
        )
        .join(Child.__table__, child.child_id == link.child_id)
        .where(record.birth_date.in_(bindparam("dates", expanding=True)))
        .where(record.is_current.is_(True), link.state == "MATCH", child.merged_into.is_(None))
    )


# Built once: SQLAlchemy finds its compiled form by the statement's memoised key.
_CANDIDATES = _candidates_query()


def search_children(session: Session, query: Demographics, limit: int = 10) -> list[Candidate]:
    """The best ``limit`` children for these demographics, strongest first.

    One indexed query (``source_record.birth_date``) for the records born on the day (or with
    day and month swapped); only each record's identity is validated (from the JSON text, by
    pydantic's core), and the query's names are normalised once, not once a record.
    """
    dates = [d for d in (query.birth_date, swapped(query.birth_date)) if d is not None]
    rows = session.connection().execute(_CANDIDATES, {"dates": dates})
    asked = _Asked.of(query)
    best: dict[str, _Scored] = {}
    agencies: dict[str, set[str]] = {}
    for child_id, agency, payload in rows:
        identity = _Stored.model_validate_json(payload).identity
        scored = asked.score(identity)
        agencies.setdefault(child_id, set()).add(agency)
        if child_id not in best or scored.score > best[child_id].score:
            best[child_id] = scored
    ranked = sorted(best.items(), key=lambda item: (-item[1].score, item[0]))
    return [
        Candidate(
            child_id=child_id,
            score=round(scored.score, 1),
            strength=_strength(scored.score),
            why=scored.why,
            known_to=sorted(agencies[child_id]),
        )
        for child_id, scored in ranked[:limit]
        if scored.score >= MIN_SCORE
    ]


def _strength(score: float) -> Literal["strong", "possible", "weak"]:
    if score >= 12:
        return "strong"
    return "possible" if score >= 8 else "weak"


def _norm(value: str | None) -> str:
    return "".join(ch for ch in (value or "").lower() if ch.isalnum())


def _similar(a: str, b: str) -> bool:
    """``SequenceMatcher.ratio() >= SIMILAR``, after the cheap upper bounds difflib offers
    (the lengths alone, then the letters in common), which turn most pairs away first."""
    if not (a and b) or 2 * min(len(a), len(b)) < SIMILAR * (len(a) + len(b)):
        return False
    matcher = SequenceMatcher(None, a, b)
    return matcher.quick_ratio() >= SIMILAR and matcher.ratio() >= SIMILAR


@dataclass(frozen=True)
class _Asked:
    """The query with its names and postcode normalised once."""

    query: Demographics
    family: str
    given: str
    postcode: str

    @classmethod
    def of(cls, query: Demographics) -> _Asked:
        return cls(query, _norm(query.family_name), _norm(query.given_name), _norm(query.postcode))

    def score(self, identity: ChildIdentity) -> _Scored:
        """Agreement weights per field, with a reason for each that counted."""
        query = self.query
        scored = _Scored(0.0, [])
        _birth_date(scored, query.birth_date, identity.birth_date)
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


def _birth_date(scored: _Scored, wanted: date, held: date | None) -> None:
    if held == wanted:
        scored.score += 5
        scored.why.append("birth date matches")
    elif held is not None and held == swapped(wanted):
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
