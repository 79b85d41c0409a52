"""A possible match's conflicts, its weights in words, and the queue's order (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.linkage.review import ReviewItem
from gateway.linkage.review_risk import assess, weight_words


def _who(given: str, family: str, born: str, **more: Any) -> dict[str, Any]:
    home = {"lines": ["1 Test Street"], "postcode": "YO1 7HH"}
    return {
        "given_name": given,
        "family_name": family,
        "birth_date": born,
        "addresses": [home],
        **more,
    }


def _kinds(left: dict[str, Any] | None, right: dict[str, Any] | None, note: str | None = None):
    return [c.kind for c in assess(left, right, note).conflicts]


def test_twins_are_told_apart_from_a_misspelling_or_a_nickname() -> None:
    born = "2017-05-09"
    assert _kinds(_who("Isla", "Finch", born), _who("Poppy", "Finch", born)) == ["twin_shaped"]
    # Both real names, one letter apart: may be twins (linkage's own rule, possible_twins).
    assert _kinds(_who("Isabella", "Finch", born), _who("Isabelle", "Finch", born)) == [
        "twin_shaped"
    ]
    assert _kinds(_who("Maisie", "Cole", born), _who("Maisy", "Cole", born)) == []
    assert _kinds(_who("Olivia", "Cole", born), _who("Olvia", "Cole", born)) == []
    assert _kinds(_who("William", "Cole", born), _who("Bill", "Cole", born)) == []
    # Same home, different surname (a step-sibling): still twin-shaped, said as a home.
    twins = assess(_who("Isla", "Finch", born), _who("Poppy", "Moss", born), None)
    assert twins.conflicts[0].says.endswith("same birth date and home, different first names")
    nameless = assess(_who("Isla", "Finch", born), {**_who("", "Finch", born)}, None)
    assert nameless.conflicts[0].says == (
        "these look like twins: same birth date and family name, a first name missing"
    )
    # Different first names a year apart: not twins, but still a conflict.
    assert _kinds(_who("Isla", "Finch", born), _who("Poppy", "Finch", "2018-05-09")) == [
        "different_forenames"
    ]
    # A sibling with a similar name, born two years later: the birth dates are the conflict.
    sibling = assess(_who("Tom", "Finch", born), _who("Tommy", "Finch", "2019-08-03"), None)
    assert [c.kind for c in sibling.conflicts] == ["different_birth_dates"]
    assert sibling.conflicts[0].says.endswith("siblings look like this")


def test_identifier_conflicts_and_check_digits_rank_as_risks() -> None:
    born = "2017-05-09"
    bad = _who("Isla", "Finch", born, nhs_number="943 476 5918")
    good = _who("Isla", "Finch", born, nhs_number="9434765919")
    found = assess(bad, good, "NHS number shared; different sex")
    assert [c.kind for c in found.conflicts] == ["identifier_conflict", "invalid_check_digit"]
    assert found.conflicts[1].says == (
        "the NHS number on the left record fails its check digit: it was not compared"
    )
    assert found.needs_second_reviewer and not found.twin_shaped
    assert found.findings is not None and found.findings["given_name"] == "given name matches"
    assert "nhs_number" not in found.findings, "an invalid number is not compared at all"
    # Records no longer held: linkage's note still counts.
    assert _kinds(None, None, "UPN shared; different forenames") == ["identifier_conflict"]
    assert assess(None, None, None).conflicts == () and assess(good, good, None).risk == 0


@pytest.mark.parametrize(
    ("weight", "said"),
    [
        (None, "not compared: missing on one record"),
        (0.0, "no evidence either way"),
        (0.02, "no evidence either way"),
        (0.5, "weak evidence of one child (1.4 times likelier)"),
        (-2.0, "some evidence of two children (4.0 times likelier)"),
        (4.0, "strong evidence of one child (16 times likelier)"),
        (-10.0, "very strong evidence of two children (1,024 times likelier)"),
    ],
)
def test_weights_are_said_in_words(weight: float | None, said: str) -> None:
    assert weight_words(weight) == said


def test_the_queue_ranks_risk_then_what_a_decision_changes_then_strength() -> None:
    born = "2017-05-09"
    twins = assess(_who("Isla", "Finch", born), _who("Poppy", "Finch", born), None)

    def item(n: int, p: float, **flags: Any) -> ReviewItem:
        return ReviewItem(
            id=n,
            left=("a", str(n)),
            right=("b", str(n)),
            probability=p,
            status="open",
            known_to_social_care=flags.get("social", False),
            home_education=flags.get("ehe", False),
            match_weights={},
            assessment=flags.get("assessment", assess(None, None, None)),
            social_care_one_side=flags.get("one_side", False),
        )

    queue = [
        item(1, 0.99),
        item(2, 0.60, ehe=True),
        item(3, 0.50, social=True, one_side=True),
        item(4, 0.55, social=True),
        item(5, 0.40, assessment=twins),
    ]
    assert [i.id for i in sorted(queue, key=ReviewItem.rank)] == [5, 3, 2, 4, 1]
