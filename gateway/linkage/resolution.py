"""The production linkage, without a database: rules, then the model's pairs, then clusters.

``resolve`` is what ``link_children`` runs on the index and what ``linkage evaluate`` runs on a
labelled file, so the figures an evaluation prints are the figures of the real thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.linkage.clustering import Cluster, LinkCandidate, Pair, ScoredEdge, cluster_records
from gateway.linkage.corroboration import forenames_agree, identifier_conflict, shared_identifier
from gateway.linkage.names import canonical_forename
from gateway.linkage.probabilistic import UPPER, PersonRow, ScoredPair, score_pairs
from gateway.linkage.spec import Compared, swapped_birth_date, unordered_birth_date


@dataclass(frozen=True)
class Conflict:
    """Two records an identifier would join whose demographics stand against it: for review."""

    pair: ScoredPair
    conflict: str  # e.g. "NHS number shared; different forenames, different birth dates"


@dataclass(frozen=True)
class Resolution:
    clusters: list[Cluster]
    scored: list[ScoredPair]  # every pair at or above the lower threshold
    conflicts: list[Conflict]  # identifier matches left apart, each with its conflict named


def resolve(
    candidates: Sequence[LinkCandidate],
    people: Sequence[PersonRow],
    model: Path | None,
    *,
    together: Sequence[Pair] = (),
    apart: Sequence[Pair] = (),
) -> Resolution:
    """Cluster the records: reviewers' decisions, identifier rules, then pairs the model links
    automatically."""
    scored = score_pairs(people, model) if model else []
    by_key = {person.key: person for person in people}
    twin_homes = homes_with_twins(people)

    def corroborated(a: LinkCandidate, b: LinkCandidate) -> bool:
        return identifier_conflict(by_key[a.key], by_key[b.key]) is None

    edges = [
        ScoredEdge(p.left, p.right, evidence(p, model))
        for p in scored
        if p.probability >= UPPER and may_join(by_key[p.left], by_key[p.right], twin_homes)
    ]
    clusters = cluster_records(
        candidates, edges, together=together, apart=apart, corroborated=corroborated
    )
    return Resolution(clusters, scored, _conflicts(clusters, people, scored, model))


def may_join(a: PersonRow, b: PersonRow, twin_homes: frozenset[str] = frozenset()) -> bool:
    """Whether a pair scoring above the upper threshold may be joined without a person: not
    twin-shaped, and not an identifier match its demographics contradict."""
    if possible_twins(a, b, twin_homes):
        return False
    return shared_identifier(a, b) is None or identifier_conflict(a, b) is None


def _conflicts(
    clusters: Sequence[Cluster],
    people: Sequence[PersonRow],
    scored: Sequence[ScoredPair],
    model: Path | None,
) -> list[Conflict]:
    """Pairs sharing a valid NHS number or UPN, left in different clusters because their
    demographics contradict it, each with its conflict and score."""
    cluster_of = {m.key: n for n, c in enumerate(clusters) for m in c.members}
    sharing: dict[str, list[PersonRow]] = {}
    for person in people:
        for key in (f"n:{person.nhs_number}", f"u:{person.upn}"):
            if not key.endswith(":None"):
                sharing.setdefault(key, []).append(person)
    score = {(p.left, p.right): p for p in scored}
    weigh = _weigher(model)
    found: dict[tuple[Any, Any], Conflict] = {}
    for group in sharing.values():
        for n, a in enumerate(group):
            for b in group[n + 1 :]:
                left, right = sorted((a.key, b.key))
                conflict = identifier_conflict(a, b)
                if conflict is None or cluster_of[left] == cluster_of[right]:
                    continue
                if (left, right) in found:
                    continue
                pair = score.get((left, right)) or score.get((right, left)) or weigh(a, b)
                what = shared_identifier(a, b)
                found[(left, right)] = Conflict(pair, f"{what} shared; {conflict}")
    return list(found.values())


def _weigher(model: Path | None) -> Any:
    """Scores a pair the model's way in Python (the pair scored below the review threshold)."""
    from gateway.linkage.match_weights import UnusableModelError, weights_in

    weights = None
    if model is not None:
        try:
            weights = weights_in(model)
        except (UnusableModelError, KeyError, ValueError):
            weights = None

    def weigh(a: PersonRow, b: PersonRow) -> ScoredPair:
        if weights is None:
            return ScoredPair(a.key, b.key, 0.0, {})
        weighed = weights.weigh(Compared.of(a), Compared.of(b))
        parts = {"prior": round(weights.prior, 3)}
        parts.update((c, round(w, 3)) for c, _, w in weighed.reached)
        return ScoredPair(a.key, b.key, weighed.probability, parts)

    return weigh


def evidence(pair: ScoredPair, model: Path | None) -> dict[str, Any]:
    return {
        "probability": round(pair.probability, 6),
        "match_weights": pair.weights,
        "model": model.stem if model else None,
    }


def possible_twins(a: PersonRow, b: PersonRow, twin_homes: frozenset[str] | None = None) -> bool:
    """Same birth date (or day and month swapped), same household (surname or address),
    different forenames.

    Twins look like this, so a person decides (the pair goes to review however high it
    scores). A nickname, a misspelling or names swapped is not a different forename
    (``corroboration.forenames_agree``): ``olvia`` is one edit from ``olivia`` and no one's
    name, whereas ``isabelle`` next to ``isabella`` are both names and may be two children.

    A record without a forename could be either twin: it is twin-shaped where the records
    show two children born that day in that household (``twin_homes``), or, when that is not
    known (``None``), always.
    """
    if a.birth_date is None or b.birth_date not in (a.birth_date, swapped_birth_date(a.birth_date)):
        return False
    household = _same(a.family_name, b.family_name) or _same(a.postcode, b.postcode)
    household = household or _same(a.address, b.address)
    if not household:
        return False
    if a.given_name is None or b.given_name is None:
        if twin_homes is None:
            return True
        return any(home in twin_homes for home in _homes(a) | _homes(b))
    return not forenames_agree(a, b)


def homes_with_twins(people: Sequence[PersonRow]) -> frozenset[str]:
    """The households (birth date with surname, postcode or address) whose records name two
    children whose forenames do not agree: twins, triplets, or a record that says so."""
    named: dict[str, dict[str, PersonRow]] = {}
    for person in people:
        if person.given_name is None:
            continue
        form = canonical_forename(person.given_name) or person.given_name
        for home in _homes(person):
            named.setdefault(home, {}).setdefault(form, person)
    twins = set()
    for home, by_form in named.items():
        children = list(by_form.values())
        if any(
            not forenames_agree(x, y) for n, x in enumerate(children) for y in children[n + 1 :]
        ):
            twins.add(home)
    return frozenset(twins)


def _homes(person: PersonRow) -> set[str]:
    born = unordered_birth_date(person.birth_date)
    if born is None:
        return set()
    places = (("f", person.family_name), ("p", person.postcode), ("a", person.address))
    return {f"{born}|{kind}:{value}" for kind, value in places if value}


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and a == b
