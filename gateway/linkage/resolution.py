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
from gateway.linkage.names import is_common_forename, one_edit_apart, same_forename
from gateway.linkage.probabilistic import UPPER, PersonRow, ScoredPair, score_pairs


@dataclass(frozen=True)
class Resolution:
    clusters: list[Cluster]
    scored: list[ScoredPair]  # every pair at or above the lower threshold


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
    edges = [
        ScoredEdge(p.left, p.right, evidence(p, model))
        for p in scored
        if p.probability >= UPPER and not possible_twins(by_key[p.left], by_key[p.right])
    ]
    clusters = cluster_records(candidates, edges, together=together, apart=apart)
    return Resolution(clusters, scored)


def evidence(pair: ScoredPair, model: Path | None) -> dict[str, Any]:
    return {
        "probability": round(pair.probability, 6),
        "match_weights": pair.weights,
        "model": model.stem if model else None,
    }


def possible_twins(a: PersonRow, b: PersonRow) -> bool:
    """Same birth date (or day and month swapped), same household (surname or address),
    different forenames.

    Twins look like this, so a person decides (the pair goes to review however high it
    scores). A nickname or a typo of one forename is not a different forename: ``olvia`` is
    one edit from ``olivia`` and no one's name, whereas ``isabelle`` next to ``isabella`` are
    both names and may be two children.
    """
    if a.birth_date is None or b.birth_date not in (a.birth_date, _swapped(a.birth_date)):
        return False
    household = _same(a.family_name, b.family_name) or _same(a.postcode, b.postcode)
    household = household or _same(a.address, b.address)
    return household and _different_forenames(a.given_name, b.given_name)


def _swapped(born: str) -> str | None:
    """The date with day and month swapped: scoring counts that nearly as a match, so here too."""
    return f"{born[:4]}-{born[8:10]}-{born[5:7]}" if len(born) == 10 else None


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and a == b


def _different_forenames(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return True  # no forename to tell them apart: either twin
    if same_forename(a, b):
        return False
    typo = one_edit_apart(a.lower(), b.lower())
    return not typo or (is_common_forename(a) and is_common_forename(b))
