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
    twin_pairs = Counter((c.family_key, c.birth_date) for c in twins)
    assert all(count == 2 for count in twin_pairs.values())
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
