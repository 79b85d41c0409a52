"""Identifiers are evidence, not verdicts: a shared NHS number joins only when the demographics
bear it out; otherwise the pair is queued with the conflict named. On SQLite and PostgreSQL."""

from __future__ import annotations

from index_builder import record
from sqlalchemy import select

from gateway.linkage.clustering import LinkCandidate
from gateway.linkage.corroboration import identifier_conflict
from gateway.linkage.probabilistic import PersonRow
from gateway.linkage.resolution import resolve
from gateway.pipeline import link_children
from gateway.store.engine import session_factory
from gateway.store.migrate import upgrade
from gateway.store.tables import Link, LinkReview

SIBLING_NHS = "9434765919"  # a valid number: the sibling's
OWN_NHS = "9990996032"


def _person(
    record_id: str, given: str, born: str, nhs: str | None, sex: str = "female"
) -> PersonRow:
    return PersonRow(("s", record_id), given, "hart", born, sex, "YO1 7HH", nhs, None)


def _clusters(people: list[PersonRow]) -> tuple[list[set[str]], list[tuple[set[str], str]]]:
    candidates = [LinkCandidate("s", p.key[1], p.nhs_number, p.upn) for p in people]
    resolution = resolve(candidates, people, None)
    clusters = [{m.record_id for m in c.members} for c in resolution.clusters]
    conflicts = [({c.pair.left[1], c.pair.right[1]}, c.conflict) for c in resolution.conflicts]
    return clusters, conflicts


def test_a_siblings_number_does_not_join_two_children_and_is_queued_with_the_conflict() -> None:
    sibling = _person("sib", "amelia", "2014-03-07", SIBLING_NHS)
    copied = _person("copy", "oliver", "2016-09-21", SIBLING_NHS, sex="male")
    clusters, conflicts = _clusters([sibling, copied])
    assert {"sib"} in clusters and {"copy"} in clusters
    assert conflicts == [
        (
            {"sib", "copy"},
            "NHS number shared; different forenames, different birth dates, different sex",
        )
    ]


def test_a_shared_number_with_corroborating_demographics_joins() -> None:
    people = [
        _person("a", "olivia", "2014-03-07", OWN_NHS),
        _person("b", "olvia", "2014-07-03", OWN_NHS),  # a typo; day and month swapped
        _person("c", "liv", "2015-03-07", OWN_NHS),  # a nickname; a year off by one
    ]
    clusters, conflicts = _clusters(people)
    assert clusters == [{"a", "b", "c"}] and conflicts == []


def test_twins_sharing_a_copied_number_stay_apart() -> None:
    """Same birth date corroborates, but two real forenames contradict: twins, for review."""
    twin = _person("t1", "isabella", "2014-03-07", OWN_NHS)
    other = _person("t2", "isabelle", "2014-03-07", OWN_NHS)
    assert identifier_conflict(twin, other) == "different forenames"
    clusters, conflicts = _clusters([twin, other])
    assert len(clusters) == 2 and conflicts[0][1] == "NHS number shared; different forenames"


def test_two_different_valid_numbers_are_never_joined_even_with_the_same_demographics() -> None:
    clusters, _ = _clusters(
        [
            _person("a", "olivia", "2014-03-07", OWN_NHS),
            _person("b", "olivia", "2014-03-07", SIBLING_NHS),
            _person("c", "olivia", "2014-03-07", None),
        ]
    )
    assert {"a"} in clusters or {"b"} in clusters
    assert not any({"a", "b"} <= c for c in clusters)


def test_a_conflicting_identifier_match_is_queued_with_its_conflict(index_url: str) -> None:
    upgrade(index_url)
    source = "health__fhir_patient"

    def identity(given: str, born: str, sex: str) -> dict[str, object]:
        return {
            "given_name": given,
            "family_name": "Hart",
            "birth_date": born,
            "sex": sex,
            "nhs_number": SIBLING_NHS,
            "addresses": [{"lines": ["1 Test Street"], "postcode": "YO1 7HH"}],
        }

    from gateway.store.loader import load_records

    records = [
        record(source, "p1", identity("Amelia", "2014-03-07", "female")),
        record(source, "p2", identity("Oliver", "2016-09-21", "male")),
        record(source, "p3", identity("Amelia", "2014-03-07", "female")),
    ]
    with session_factory(index_url).begin() as session:
        load_records(session, source, "health", "b1", records)
    summary = link_children(index_url)
    assert summary.new_reviews == 2
    with session_factory(index_url)() as session:
        child = dict(session.execute(select(Link.record_id, Link.child_id)).tuples().all())
        reviews = session.scalars(select(LinkReview)).all()
    assert child["p1"] == child["p3"] != child["p2"]
    assert {r.conflict for r in reviews} == {
        "NHS number shared; different forenames, different birth dates, different sex"
    }
    assert {r.status for r in reviews} == {"open"}
