"""Identity resolution: rules first, then the Splink model; never two true children merged."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from gateway.linkage.clustering import LinkCandidate, ScoredEdge, cluster_records
from gateway.linkage.probabilistic import UPPER
from gateway.linkage.publish import open_reviews, train_on_index
from gateway.pipeline import ingest, link_children
from gateway.read_model import resolve_child
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.tables import Child, Link


def test_scored_edges_never_join_different_nhs_numbers_or_upns() -> None:
    a = LinkCandidate("s1", "a", "9434765919", None)
    b = LinkCandidate("s2", "b", "9990996032", None)
    c = LinkCandidate("s3", "c", None, "A815200422047")
    d = LinkCandidate("s4", "d", None, "F815200422047")
    e = LinkCandidate("s5", "e", None, None)
    evidence = {"probability": 0.9999}
    clusters = cluster_records(
        [a, b, c, d, e],
        [
            ScoredEdge(a.key, b.key, evidence),
            ScoredEdge(c.key, d.key, evidence),
            ScoredEdge(a.key, e.key, evidence),
        ],
    )
    groups = sorted(sorted(m.record_id for m in cl.members) for cl in clusters)
    assert groups == [["a", "e"], ["b"], ["c"], ["d"]]
    (joined,) = [cl for cl in clusters if len(cl.members) == 2]
    assert joined.rules == {("s1", "a"): "probabilistic", ("s5", "e"): "probabilistic"}
    assert joined.evidence[("s5", "e")]["with"] == ["s1", "a"]


def _truth(inbox: Path) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    truth, families = {}, {}
    with (inbox / "ground_truth.csv").open() as handle:
        for row in csv.DictReader(handle):
            truth[(row["source"], row["record_id"])] = row["child"]
            if row["twin"] == "1":
                families[row["child"]] = row["family"]
    return truth, families


def _members(index_url: str, truth: dict[tuple[str, str], str]) -> dict[str, set[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    with session_factory(index_url)() as session:
        for link in session.scalars(select(Link)):
            members[link.child_id].add(truth[(link.source, link.record_id)])
    return members


def test_trained_model_joins_more_and_merges_no_two_children(index_url: str, inbox: Path) -> None:
    for source in source_names():
        ingest(source, index_url=index_url)
    rules_only = link_children(index_url)
    truth, twins = _truth(inbox)
    before = _members(index_url, truth)

    model = train_on_index(index_url)
    assert model.name == "model-v0001.json"
    summary = link_children(index_url)
    after = _members(index_url, truth)

    assert len(after) < len(before), "the model joins records no identifier joined"
    assert [c for c in after.values() if len(c) > 1] == [], "no two true children in one child"
    twin_children = [c for c in after.values() if c & set(twins)]
    assert twin_children and all(len(c) == 1 for c in twin_children)
    with session_factory(index_url)() as session:
        live = {
            c.child_id for c in session.scalars(select(Child).where(Child.merged_into.is_(None)))
        }
        assert set(after) <= live
        for old_id in before:  # every earlier child id still leads to its child
            survivor = resolve_child(session, old_id)
            assert survivor is not None and survivor.child_id in live
        probabilistic = session.scalars(select(Link).where(Link.rule == "probabilistic")).all()
    assert probabilistic
    for link in probabilistic:
        assert link.evidence["probability"] >= UPPER
        weights = link.evidence["match_weights"]
        assert set(weights) >= {"prior", "given_name", "family_name", "birth_date", "place"}
        assert sum(weights.values()) > 0, "agreement on the fields is what linked them"
    assert rules_only.new_reviews + summary.new_reviews == len(open_reviews(index_url))
    again = link_children(index_url)
    assert (again.links_changed, again.new_reviews, again.new_children) == (0, 0, 0)


def test_twin_shaped_pairs_are_never_auto_linked() -> None:
    from gateway.linkage.probabilistic import PersonRow
    from gateway.linkage.resolution import possible_twins

    def person(given: str, family: str = "green", born: str = "2011-02-02") -> PersonRow:
        return PersonRow(("s", given), given, family, born, "female", "YO11 1AA", None, None)

    assert possible_twins(person("riley"), person("ruby"))
    assert not possible_twins(person("riley"), person("riley"))
    assert not possible_twins(person("riley"), person("ruby", born="2012-02-02"))
    # same address, different surnames (a stepfamily) is still a household
    assert possible_twins(person("riley"), person("ruby", family="hall"))
    # two real names one letter apart may be two children; a missing forename tells nothing
    assert possible_twins(person("isabella"), person("isabelle"))
    assert possible_twins(
        person("riley"),
        PersonRow(("s", "x"), None, "green", "2011-02-02", "female", "YO11 1AA", None, None),
    )


def test_nicknames_and_typos_of_one_forename_are_not_twins() -> None:
    from gateway.linkage.probabilistic import PersonRow
    from gateway.linkage.resolution import possible_twins

    def person(given: str) -> PersonRow:
        return PersonRow(
            ("s", given), given, "green", "2011-02-02", "female", "YO11 1AA", None, None
        )

    for a, b in (
        ("kate", "katherine"),
        ("sam", "samuel"),
        ("jon", "jonathan"),
        ("olivia", "olvia"),
        ("olivia", "oilvia"),
        ("sophia", "sofia"),
        ("maryam", "miriam"),
        ("kieran", "ciaran"),
        ("muhammad", "mohammed"),
    ):
        assert not possible_twins(person(a), person(b)), (a, b)


def test_names_swapped_and_misspelt_are_one_childs() -> None:
    from gateway.linkage.corroboration import forenames_agree
    from gateway.linkage.probabilistic import PersonRow

    def person(given: str, family: str) -> PersonRow:
        return PersonRow(("s", given), given, family, "2015-08-29", "male", "BD23 7EH", None, None)

    assert forenames_agree(person("jacob", "begum"), person("begmu", "jacob"))
    assert forenames_agree(person("jacob", "begum"), person("begum", "jakob"))
    # a sibling with the family's surname is not a swap
    assert not forenames_agree(person("jacob", "begum"), person("ella", "begum"))


def test_a_nameless_record_is_twin_shaped_only_where_the_records_show_twins() -> None:
    from gateway.linkage.probabilistic import PersonRow
    from gateway.linkage.resolution import homes_with_twins, possible_twins

    def person(given: str | None, family: str = "wright", key: str = "") -> PersonRow:
        return PersonRow(
            ("s", key or str(given)), given, family, "2013-11-19", "female", "YO17 9FL", None, None
        )

    charlotte, nameless = person("charlotte"), person(None, key="x")
    only_one = homes_with_twins([charlotte, person("lottie", key="y"), nameless])
    assert not only_one, "a nickname of the same child is not a second child"
    assert not possible_twins(charlotte, nameless, only_one)
    twins = homes_with_twins([charlotte, person("amelia"), nameless])
    assert twins
    assert possible_twins(charlotte, nameless, twins)
    assert possible_twins(charlotte, nameless), "when the household is not known, a person decides"
