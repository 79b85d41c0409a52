"""Incremental linking: a batch linked against the index gives what a full run gives."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from gateway.linkage.blocking import blocking_keys
from gateway.linkage.clustering import LinkCandidate
from gateway.linkage.probabilistic import PersonRow
from gateway.linkage.publish import LinkSummary, read_candidates, train_on_index
from gateway.linkage.resolution import resolve
from gateway.pipeline import ingest, link_children
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.migrate import upgrade
from gateway.store.tables import Child, Link, LinkKey

FIRST = ("education__ctf", "education__ehe_register", "health__fhir_patient")


def _links(url: str) -> dict[tuple[str, str], str]:
    with session_factory(url)() as session:
        return {(k.source, k.record_id): k.child_id for k in session.scalars(select(Link))}


def _partition(assigned: dict[tuple[str, str], str]) -> set[frozenset[tuple[str, str]]]:
    groups: dict[str, set[tuple[str, str]]] = {}
    for key, child in assigned.items():
        groups.setdefault(child, set()).add(key)
    return {frozenset(g) for g in groups.values()}


def _link_in_two_batches(url: str, *, full: bool) -> tuple[LinkSummary, LinkSummary]:
    for source in FIRST:
        ingest(source, index_url=url)
    return link_children(url, full=full), _second_batch(url, full=full)


def _second_batch(url: str, *, full: bool = False) -> LinkSummary:
    for source in source_names():
        if source not in FIRST:
            ingest(source, index_url=url)
    return link_children(url, full=full)


def test_two_incremental_batches_give_the_clusters_and_ids_of_full_runs(
    index_url: str, inbox: Path, tmp_path: Path
) -> None:
    for source in FIRST:
        ingest(source, index_url=index_url)
    model = train_on_index(index_url)  # the model every run below links with
    reference = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    upgrade(reference)
    _link_in_two_batches(reference, full=True)
    with session_factory(reference)() as session:
        candidates, people = read_candidates(session)
    one_run = resolve(candidates, people, model).clusters

    first = link_children(index_url)
    second = _second_batch(index_url)

    assert not first.incremental, "the first run links everything"
    assert second.incremental
    assert 0 < second.records < len(candidates), "the batch and its neighbours, not all"
    incremental = _links(index_url)
    assert _partition(incremental) == {frozenset(m.key for m in c.members) for c in one_run}
    assert incremental == _links(reference), "same children, same child ids as full runs"
    again = link_children(index_url, full=True)
    assert not again.incremental
    assert (again.links_changed, again.new_children, again.merged_children) == (0, 0, 0)
    nothing = link_children(index_url)
    assert (nothing.incremental, nothing.records, nothing.links_changed) == (True, 0, 0)
    with session_factory(index_url)() as session:
        live = session.scalar(
            select(func.count()).select_from(Child).where(Child.merged_into.is_(None))
        )
        keyed = session.scalar(select(func.count(func.distinct(LinkKey.record_id))))
    assert live == len(one_run)
    assert keyed == len({k[1] for k in incremental})
    train_on_index(index_url)
    assert not link_children(index_url).incremental, "a new model re-links everything"


def test_blocking_keys_follow_the_rules_and_the_splink_blocking() -> None:
    candidate = LinkCandidate("s", "1", "9434765919", None, (("case", "77"),), "0")
    person = PersonRow(("s", "1"), "kate", "green", "2011-02-03", "female", "YO11 1AA", None, None)
    keys = blocking_keys(candidate, person)
    assert {"n:9434765919", "l:case|77", "m:s|1", "m:s|0", "p:YO11 1AA|k"} <= keys
    assert {"df:2011-02-03|green", "dg:2011-02-03|catherine", "di:2011-02-03|c|g"} <= keys
    swapped = PersonRow(("s", "3"), "catherine", "green", "2011-03-02", None, None, None, None)
    assert blocking_keys(LinkCandidate("s", "3", None, None), swapped) & keys == {
        "df:2011-02-03|green",
        "dg:2011-02-03|catherine",
        "di:2011-02-03|c|g",
        "ny:catherine|green|2011",
    }, "day and month swapped, nickname: the same date, forename, initials, names and year"
    a_year_out = PersonRow(("s", "4"), "catherine", "green", "2012-02-03", None, None, None, None)
    assert blocking_keys(LinkCandidate("s", "4", None, None), a_year_out) & keys == {
        "nd:catherine|green|02-03",
    }, "a year written wrong: the names with the day and month"
    bare = PersonRow(("s", "2"), None, None, None, None, None, None, None)
    assert blocking_keys(LinkCandidate("s", "2", None, None), bare) == {"m:s|2"}


def test_blocking_keys_share_a_key_exactly_when_a_splink_blocking_rule_compares_the_pair() -> None:
    import duckdb

    from gateway.linkage.blocking import is_rule_key
    from gateway.linkage.probabilistic import BLOCKING_RULES, _frame

    rows = [
        PersonRow(("s", "1"), "kate", "green", "2011-02-03", "female", "YO11 1AA", None, None),
        PersonRow(("s", "2"), "catherine", "green", "2011-03-02", "female", None, None, None),
        PersonRow(("s", "3"), "katie", "grene", "2011-02-03", None, "YO8 2ZZ", None, None),
        PersonRow(("s", "4"), "kieran", "hill", "2011-02-03", "male", "YO11 1AA", None, None),
        PersonRow(("s", "5"), "olivia", "green", "2012-02-03", "female", "YO11 1AA", None, None),
        PersonRow(("s", "6"), None, None, "2011-02-03", "female", None, None, None),
        PersonRow(("s", "7"), "tom", "smith", "2015-10-01", "male", "HG1 1AB", None, None),
        PersonRow(("s", "8"), "thomas", "smyth", "2015-01-10", "male", "DL6 2AZ", None, None),
        PersonRow(("s", "9"), "kieran", "mason", "2015-04-26", "male", "HG4 9YY", None, None),
        PersonRow(("s", "9a"), "kiersn", "masom", "2015-04-26", "male", "HG2 8HU", None, None),
    ]
    db = duckdb.connect()
    db.register("people", _frame(rows))
    rules = " or ".join(f"({rule})" for rule in BLOCKING_RULES)
    compared = set(
        db.sql(
            "select l.unique_id, r.unique_id from people l join people r "
            f"on l.unique_id < r.unique_id and ({rules})"
        ).fetchall()
    )
    keys = {
        f"s/{p.key[1]}": {
            k
            for k in blocking_keys(LinkCandidate("s", p.key[1], None, None), p)
            if not is_rule_key(k)
        }
        for p in rows
    }
    sharing = {(a, b) for a in keys for b in keys if a < b and keys[a] & keys[b]}
    assert compared == sharing
    assert ("s/1", "s/2") in compared, "day and month swapped, nickname"
    assert ("s/7", "s/8") in compared, "day and month swapped, a typo in the surname"
    assert ("s/9", "s/9a") in compared, "a typo in each name, moved house"
    assert not {p for p in compared if "s/6" in p}, "no name: only identifiers link it"
