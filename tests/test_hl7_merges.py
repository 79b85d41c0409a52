"""The source_merge rule: records a source merged (HL7 A40) go together, chains included."""

from __future__ import annotations

from gateway.linkage.clustering import Cluster, LinkCandidate, cluster_records, merge_roots

SOURCE = "health__hl7v2_adt"


def _members(clusters: list[Cluster]) -> list[set[str]]:
    return sorted(({m.record_id for m in c.members} for c in clusters), key=sorted)


def test_a_chain_of_merges_ends_in_one_cluster() -> None:
    candidates = [
        LinkCandidate(SOURCE, "A", None, None, merged_into="B"),
        LinkCandidate(SOURCE, "B", None, None, merged_into="C"),
        LinkCandidate(SOURCE, "C", None, None),
        LinkCandidate(SOURCE, "D", None, None),
        LinkCandidate("other_source", "C", None, None),  # same id, other source: not merged
    ]
    clusters = cluster_records(candidates)
    assert _members(clusters) == [{"A", "B", "C"}, {"C"}, {"D"}]
    merged = next(c for c in clusters if len(c.members) == 3)
    assert set(merged.rules.values()) == {"source_merge"}


def test_a_cycle_of_merges_ends_at_its_smallest_id() -> None:
    candidates = [
        LinkCandidate(SOURCE, "B", None, None, merged_into="A"),
        LinkCandidate(SOURCE, "A", None, None, merged_into="B"),
    ]
    assert set(merge_roots(candidates).values()) == {"A"}
    assert _members(cluster_records(candidates)) == [{"A", "B"}]


def test_a_merge_never_joins_two_different_valid_nhs_numbers() -> None:
    """The guard that keeps two children apart holds against a source's merge too."""
    candidates = [
        LinkCandidate(SOURCE, "A", "9434765919", None, merged_into="B"),
        LinkCandidate(SOURCE, "B", "9990000018", None),
    ]
    assert _members(cluster_records(candidates)) == [{"A"}, {"B"}]
