"""Clustering: records that share a valid NHS number, UPN or agency-local id, records their
source merged (HL7 A40), then the probabilistic links the caller scored (Splink) as extra edges.

Pure functions over small record summaries, no database: the caller reads the records and
writes the clusters. A shared NHS number or UPN joins two records only where the caller's
``corroborated`` says their demographics bear it out (``corroboration``): an identifier is
evidence, not a verdict. Two different valid NHS numbers mean two children, whatever else they
share, so a join that would put two NHS numbers in one cluster is refused; a probabilistic
join is refused as well where it would put two different valid UPNs together. A reviewer's
decisions come first and bind every rule: pairs accepted as one child are joined (rule
``manual``), pairs rejected are never put in one cluster by anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

RULES = ("nhs_number", "upn", "local_id", "source_merge")
CORROBORATED_RULES = frozenset({"nhs_number", "upn"})  # joins that need the demographics' word
Pair = tuple[tuple[str, str], tuple[str, str]]


@dataclass(frozen=True)
class LinkCandidate:
    """What linkage needs of one current source record (valid identifiers only)."""

    source: str
    record_id: str
    nhs_number: str | None
    upn: str | None
    local_ids: tuple[tuple[str, str], ...] = ()
    merged_into: str | None = None  # the record of the same source this one was merged into

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.record_id)


@dataclass(frozen=True)
class ScoredEdge:
    """A probabilistic link the caller wants joined, with its evidence."""

    left: tuple[str, str]
    right: tuple[str, str]
    evidence: dict[str, Any]


@dataclass
class Cluster:
    members: list[LinkCandidate]
    rules: dict[tuple[str, str], str] = field(default_factory=dict)
    evidence: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return min(m.key for m in self.members)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))
        # root -> the valid NHS numbers and UPNs its cluster holds (only roots that hold any)
        self.nhs: dict[int, set[str]] = {}
        self.upn: dict[int, set[str]] = {}
        self.apart: dict[int, set[int]] = {}  # root -> records its cluster must never hold

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int, *, strict_upn: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        nhs_a, nhs_b = self.nhs.get(ra), self.nhs.get(rb)
        if nhs_a and nhs_b and nhs_a != nhs_b:
            return False  # two children: never join different valid NHS numbers
        upn_a, upn_b = self.upn.get(ra), self.upn.get(rb)
        if strict_upn and upn_a and upn_b and upn_a != upn_b:
            return False
        if any(self.find(x) == rb for x in self.apart.get(ra, ())):
            return False  # a reviewer said these are two children
        self.parent[rb] = ra
        if rb in self.apart:
            self.apart.setdefault(ra, set()).update(self.apart.pop(rb))
        for held in (self.nhs, self.upn):
            if rb in held:
                held.setdefault(ra, set()).update(held.pop(rb))
        return True


def _keys(
    candidate: LinkCandidate, rule: str, roots: dict[tuple[str, str], str]
) -> Iterable[tuple[str, ...]]:
    if rule == "source_merge" and candidate.key in roots:
        yield ("merged", candidate.source, roots[candidate.key])
    elif rule == "nhs_number" and candidate.nhs_number:
        yield ("nhs", candidate.nhs_number)
    elif rule == "upn" and candidate.upn:
        yield ("upn", candidate.upn)
    elif rule == "local_id":
        for namespace, value in candidate.local_ids:
            yield ("local", namespace, value)


def cluster_records(
    candidates: Sequence[LinkCandidate],
    scored: Sequence[ScoredEdge] = (),
    *,
    together: Sequence[Pair] = (),
    apart: Sequence[Pair] = (),
    corroborated: Callable[[LinkCandidate, LinkCandidate], bool] | None = None,
) -> list[Cluster]:
    """Group records: a reviewer's decisions, the rules in order (NHS number, UPN, local id),
    then scored edges. ``corroborated``: whether two records sharing an identifier may be
    joined by it (all may, without it)."""
    uf = _UnionFind(len(candidates))
    for i, c in enumerate(candidates):
        if c.nhs_number:
            uf.nhs[i] = {c.nhs_number}
        if c.upn:
            uf.upn[i] = {c.upn}
    joined_by: dict[int, str] = {}
    # Where each record is: decisions and scored edges name records by key (read only if any).
    position = {c.key: i for i, c in enumerate(candidates)} if together or apart or scored else {}
    _apply_decisions(uf, position, together, apart, joined_by)
    for rule in RULES:
        check = corroborated if rule in CORROBORATED_RULES else None
        _join_on_rule(uf, candidates, rule, joined_by, check)
    evidence = _join_scored(uf, position, scored, joined_by)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(candidates)):
        groups[uf.find(i)].append(i)
    clusters = []
    for members in groups.values():
        cluster = Cluster([candidates[i] for i in members])
        cluster.rules = {candidates[i].key: joined_by.get(i, "sole_record") for i in members}
        cluster.evidence = {candidates[i].key: evidence[i] for i in members if i in evidence}
        clusters.append(cluster)
    clusters.sort(key=lambda c: c.key)
    return clusters


def _apply_decisions(
    uf: _UnionFind,
    index: dict[tuple[str, str], int],
    together: Sequence[Pair],
    apart: Sequence[Pair],
    joined_by: dict[int, str],
) -> None:
    for left, right in apart:
        if left in index and right in index:
            i, j = index[left], index[right]
            uf.apart.setdefault(i, set()).add(j)
            uf.apart.setdefault(j, set()).add(i)
    for left, right in together:
        if left in index and right in index and uf.union(index[left], index[right]):
            joined_by.setdefault(index[left], "manual")
            joined_by.setdefault(index[right], "manual")


def _join_on_rule(
    uf: _UnionFind,
    candidates: Sequence[LinkCandidate],
    rule: str,
    joined_by: dict[int, str],
    corroborated: Callable[[LinkCandidate, LinkCandidate], bool] | None,
) -> None:
    """Join each record to the first earlier record sharing the rule's key (with
    ``corroborated``: the first one that bears the join out)."""
    sharing: dict[tuple[str, ...], list[int]] = {}
    roots = merge_roots(candidates) if rule == "source_merge" else {}
    for i, candidate in enumerate(candidates):
        for key in _keys(candidate, rule, roots):
            earlier = sharing.setdefault(key, [])
            j = next(
                (
                    j
                    for j in earlier
                    if corroborated is None or corroborated(candidates[j], candidate)
                ),
                None,
            )
            earlier.append(i)
            if j is not None and uf.union(j, i):
                joined_by.setdefault(i, rule)
                joined_by.setdefault(j, rule)


def merge_roots(candidates: Sequence[LinkCandidate]) -> dict[tuple[str, str], str]:
    """For each record in a merge (retired or survivor), the record its chain of merges ends at
    (A merged into B, B into C: A, B and C all end at C); a cycle ends at its smallest id."""
    into = {c.key: c.merged_into for c in candidates if c.merged_into}
    roots: dict[tuple[str, str], str] = {}
    for source, record_id in into:
        chain = [record_id]
        while (source, chain[-1]) in into and into[(source, chain[-1])] not in chain:
            chain.append(into[(source, chain[-1])])
        nxt = into.get((source, chain[-1]))
        root = min(chain[chain.index(nxt) :]) if nxt in chain else chain[-1]
        for member in chain:
            roots[(source, member)] = root
    return roots


def _join_scored(
    uf: _UnionFind,
    index: dict[tuple[str, str], int],
    scored: Sequence[ScoredEdge],
    joined_by: dict[int, str],
) -> dict[int, dict[str, Any]]:
    """Join the strongest pairs first; each record keeps the evidence of its first join."""
    evidence: dict[int, dict[str, Any]] = {}
    strongest_first = sorted(
        scored, key=lambda e: (-float(e.evidence.get("probability", 0)), e.left, e.right)
    )
    for edge in strongest_first:
        if edge.left not in index or edge.right not in index:
            continue
        i, j = index[edge.left], index[edge.right]
        if uf.find(i) == uf.find(j) or not uf.union(i, j, strict_upn=True):
            continue
        for end, other in ((i, edge.right), (j, edge.left)):
            if end not in joined_by:
                joined_by[end] = "probabilistic"
                evidence[end] = {**edge.evidence, "with": list(other)}
    return evidence
