"""Deterministic linkage: records that share a valid NHS number, UPN or agency-local id.

Pure functions over small record summaries, no database: the caller reads the records and
writes the clusters. Two different valid NHS numbers mean two children, whatever else they
share, so a join that would put two NHS numbers in one cluster is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

RULES = ("nhs_number", "upn", "local_id")


@dataclass(frozen=True)
class LinkCandidate:
    """What linkage needs of one current source record (valid identifiers only)."""

    source: str
    record_id: str
    nhs_number: str | None
    upn: str | None
    local_ids: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.record_id)


@dataclass
class Cluster:
    members: list[LinkCandidate]
    rules: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return min(m.key for m in self.members)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))
        self.nhs: list[set[str]] = [set() for _ in range(size)]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.nhs[ra] and self.nhs[rb] and self.nhs[ra] != self.nhs[rb]:
            return False  # two children: never join different valid NHS numbers
        self.parent[rb] = ra
        self.nhs[ra] |= self.nhs[rb]
        return True


def _keys(candidate: LinkCandidate, rule: str) -> Iterable[tuple[str, ...]]:
    if rule == "nhs_number" and candidate.nhs_number:
        yield ("nhs", candidate.nhs_number)
    elif rule == "upn" and candidate.upn:
        yield ("upn", candidate.upn)
    elif rule == "local_id":
        for namespace, value in candidate.local_ids:
            yield ("local", namespace, value)


def cluster_records(candidates: Sequence[LinkCandidate]) -> list[Cluster]:
    """Group records by the rules in order (NHS number, then UPN, then local id)."""
    uf = _UnionFind(len(candidates))
    for i, c in enumerate(candidates):
        if c.nhs_number:
            uf.nhs[i].add(c.nhs_number)
    joined_by: dict[int, str] = {}
    for rule in RULES:
        first_with: dict[tuple[str, ...], int] = {}
        for i, candidate in enumerate(candidates):
            for key in _keys(candidate, rule):
                if key not in first_with:
                    first_with[key] = i
                    continue
                j = first_with[key]
                if uf.union(j, i):
                    joined_by.setdefault(i, rule)
                    joined_by.setdefault(j, rule)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(candidates)):
        groups[uf.find(i)].append(i)
    clusters = []
    for members in groups.values():
        cluster = Cluster([candidates[i] for i in members])
        cluster.rules = {candidates[i].key: joined_by.get(i, "sole_record") for i in members}
        clusters.append(cluster)
    clusters.sort(key=lambda c: c.key)
    return clusters
