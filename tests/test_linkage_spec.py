"""The linkage specification is the one source: Splink's saved model, search's Python level
deciders and term-frequency adjustments, and the blocking recall figures all follow it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_search_ranking import PRIOR, TRAINED, _noisy_rows, with_weights

from gateway.linkage.evaluate import blocking_recall
from gateway.linkage.levels import SQL, Compared
from gateway.linkage.match_weights import weights_of
from gateway.linkage.probabilistic import (
    BLOCKING_RULES,
    PersonRow,
    _linker,
    linkage_settings,
    score_pairs,
    term_frequencies,
)
from gateway.linkage.spec import BLOCKING, COMPARISONS


@pytest.fixture(scope="module")
def saved() -> dict[str, Any]:
    rows = [PersonRow((s, s), "a", "b", "2015-03-07", None, None, None, None) for s in "xy"]
    document: dict[str, Any] = _linker(rows, linkage_settings()).misc.save_model_to_json()
    return document


def test_splinks_saved_model_holds_the_specifications_levels_and_rules(
    saved: dict[str, Any],
) -> None:
    held = {
        c["output_column_name"]: tuple(lv["sql_condition"] for lv in c["comparison_levels"])
        for c in saved["comparisons"]
    }
    assert held == SQL and list(held) == [c.name for c in COMPARISONS]
    rules = [r["blocking_rule"] for r in saved["blocking_rules_to_generate_predictions"]]
    assert rules == list(BLOCKING_RULES) == [rule.sql for rule in BLOCKING]
    adjusted = {
        lv.get("tf_adjustment_column")
        for c in saved["comparisons"]
        for lv in c["comparison_levels"]
        if lv.get("tf_adjustment_column")
    }
    assert adjusted == {"given_name", "family_name", "postcode"}


def test_term_frequency_adjusted_weights_in_python_are_splinks(
    saved: dict[str, Any], tmp_path: Path
) -> None:
    """A common name counts for less than a rare one, the same in search as in linkage."""
    rows = _noisy_rows(150, seed=7)
    model = with_weights(saved, PRIOR, TRAINED)
    model["ehe_gateway"] = {"term_frequencies": term_frequencies(rows)}
    path = tmp_path / "model-v0001.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    weights = weights_of(model, "model-v0001")
    by_key = {row.key: Compared.of(row) for row in rows}
    adjusted_seen = set()
    for pair in score_pairs(rows, path, lower=0.0):
        ours = weights.weigh(by_key[pair.left], by_key[pair.right])
        parts = {p.comparison: p.weight for p in ours.contributions}
        for comparison in SQL:
            assert parts.get(comparison, 0.0) == pytest.approx(pair.weights[comparison], abs=1e-3)
        assert ours.probability == pytest.approx(pair.probability, abs=1e-9, rel=1e-6)
        exact_family = next(
            (p for p in ours.contributions if p.comparison == "family_name" and p.level == 1),
            None,
        )
        if exact_family is not None:
            adjusted_seen.add(round(exact_family.weight, 3))
    assert len(adjusted_seen) > 1, "an exact surname weighs more or less by how common it is"


def test_blocking_recall_counts_true_pairs_compared_and_comparisons() -> None:
    def row(record_id: str, given: str, family: str, born: str) -> PersonRow:
        return PersonRow(("s", record_id), given, family, born, None, None, None, None)

    people = [
        row("a1", "olivia", "hart", "2014-03-07"),
        row("a2", "hart", "olivia", "2014-11-30"),  # names swapped, another day: still met
        row("a3", "olivia", "stone", "2001-03-07"),  # shares no key with a1 or a2
        row("b1", "amelia", "hart", "2014-03-07"),  # another child, same date and surname
    ]
    labels = {("s", "a1"): "A", ("s", "a2"): "A", ("s", "a3"): "A", ("s", "b1"): "B"}
    recall = blocking_recall(people, labels)
    assert (recall.true_pairs, recall.true_pairs_compared) == (3, 1)
    assert recall.comparisons == 2 and recall.comparisons_per_record == 0.5
    assert recall.pairs_completeness == pytest.approx(1 / 3)
    assert recall.true_pairs_connected == 1, "a3 meets neither a1 nor a2"
    chained = [*people, row("a4", "olivia", "stone", "2014-03-07")]  # meets a3 and a1
    labels[("s", "a4")] = "A"
    again = blocking_recall(chained, labels)
    assert again.true_pairs == 6 and again.true_pairs_compared < 6
    assert again.connected_completeness == 1.0, "a chain of compared true pairs joins them all"
    assert again.named_true_pairs == 6
    nameless = [*chained, PersonRow(("s", "a5"), None, None, "2014-03-07", None, None, None, None)]
    labels[("s", "a5")] = "A"
    third = blocking_recall(nameless, labels)
    assert third.true_pairs == 10 and third.named_true_pairs == 6, "a5 has no name to meet by"
    assert third.named_completeness == again.pairs_completeness


def test_blocking_recall_with_a_model_counts_the_true_pairs_it_would_put_forward(
    saved: dict[str, Any], tmp_path: Path
) -> None:
    model = tmp_path / "model-v0001.json"
    model.write_text(json.dumps(with_weights(saved, PRIOR, TRAINED)), encoding="utf-8")

    def girl(record_id: str, named: bool, postcode: str | None) -> PersonRow:
        given, family = ("olivia", "hart") if named else (None, None)
        return PersonRow(
            ("s", record_id), given, family, "2014-03-07", "female", postcode, None, None
        )

    people = [
        girl("c1", False, "YO1 7HH"),  # no names, but the birth date and postcode agree
        girl("c2", True, "YO1 7HH"),
        girl("c3", False, None),  # a census return: birth date and sex alone
        girl("c4", True, "YO1 7HH"),
    ]
    recall = blocking_recall(people, dict.fromkeys((p.key for p in people), "C"), model=model)
    # c1 with c2 and with c4 score above review but share no key; c2 with c4 is compared;
    # c3 scores below review against anyone, so blocking loses nothing by not comparing it
    assert (recall.true_pairs, recall.true_pairs_compared) == (6, 1)
    assert (recall.forward_true_pairs, recall.forward_true_pairs_compared) == (3, 1)
    assert recall.forward_completeness == pytest.approx(1 / 3)
    assert "0.3333 of the 3 the model scores 0.9 or more" in recall.lines()[0]
    without = blocking_recall(people, dict.fromkeys((p.key for p in people), "C"))
    assert without.forward_true_pairs is None
    assert "the model scores" not in without.lines()[0], "no model: no such figure"
