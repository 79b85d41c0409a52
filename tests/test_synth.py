"""The synthetic population: deterministic, realistic in the ways linkage finds hard."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, defaultdict
from pathlib import Path

from gateway.identifiers import is_valid_nhs_number, is_valid_upn
from gateway.synth import generate
from gateway.synth.population import make_population


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_files(tmp_path: Path) -> None:
    generate(120, 3, tmp_path / "a")
    generate(120, 3, tmp_path / "b")
    generate(120, 4, tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_population_has_families_twins_and_valid_test_range_identifiers() -> None:
    people = make_population(2000, 9)
    assert len(people) == 2000
    families = defaultdict(list)
    for child in people:
        families[child.family_key].append(child)
        assert child.nhs_number.startswith("999") and is_valid_nhs_number(child.nhs_number)
        assert is_valid_upn(child.upn)
    assert len({c.nhs_number for c in people}) == 2000
    assert len({c.upn for c in people}) == 2000
    siblings = [f for f in families.values() if len(f) > 1]
    assert siblings and all(len({c.home for c in f}) == 1 for f in siblings)
    twins = [c for c in people if c.twin]
    assert twins
    born_together = Counter((c.family_key, c.birth_date) for c in twins)
    assert set(born_together.values()) == {2, 3}, "twins and triplets"
    for child in people:
        family = families[child.family_key]
        assert sorted(child.sibling_nhs) == sorted(c.nhs_number for c in family if c is not child)
        assert is_valid_nhs_number(child.parent_nhs)
    assert not {c.parent_nhs for c in people} & {c.nhs_number for c in people}
    assert all(len({c.given_name for c in f}) == len(f) for f in families.values())


def test_ground_truth_covers_every_record_and_defects_appear(tmp_path: Path) -> None:
    result = generate(600, 5, tmp_path)
    with result.ground_truth.open() as handle:
        rows = list(csv.DictReader(handle))
    per_source = Counter(r["source"] for r in rows)
    assert dict(per_source) == result.records
    assert any(r["defect"] for r in rows)
    keys = Counter((r["source"], r["record_id"], r["child"]) for r in rows)
    assert keys  # duplicates within a source are distinct records of the same child
    children_per_record = defaultdict(set)
    for r in rows:
        children_per_record[(r["source"], r["record_id"])].add(r["child"])
    assert all(len(c) == 1 for c in children_per_record.values())


def test_each_kind_of_recording_error_appears_at_its_rate() -> None:
    import random

    from gateway.synth.population import Noise, World, record_as

    world = World(double_barrelled=0.5, similar_sibling_names=1.0)
    people = make_population(3000, 11, world)
    assert sum("-" in c.family_name for c in people) > 1000
    noise = Noise(
        names_swapped=0.05, birth_first_of_january=0.05, sibling_nhs=0.05, valid_nhs_typo=0.05
    )
    rng = random.Random(1)
    records = [record_as(rng, c, c.key, noise, ()) for c in people]
    swapped = sum(r.given_name == r.child.family_name for r in records)
    first_of_january = sum(
        r.birth_date is not None
        and r.birth_date != r.child.birth_date
        and (r.birth_date.month, r.birth_date.day) == (1, 1)
        for r in records
    )
    sibling = sum(r.nhs_number in r.child.sibling_nhs for r in records)
    others = {c.nhs_number for c in people} | {c.parent_nhs for c in people}
    typo = [  # another valid number that is no one's here (the last digit one out never is)
        r.nhs_number
        for r in records
        if r.nhs_number
        and r.nhs_number != r.child.nhs_number
        and r.nhs_number not in others
        and is_valid_nhs_number(r.nhs_number)
    ]
    assert 75 < swapped < 225 and 75 < first_of_january < 225 and 40 < sibling < 225
    assert 40 < len(typo) < 225, "typos that pass Modulus 11"
