"""Small-number suppression: 1 to 4 hidden, 0 shown, and no hidden count derivable from what a
group shows (its total less the other parts, or the ranges the hidden cells may take)."""

from __future__ import annotations

from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.reports.suppression import (
    FEWER_THAN,
    NOT_SHOWN,
    Group,
    Shown,
    equal,
    suppress,
)


def _table(counts: dict[str, int]) -> tuple[dict[str, int], Group]:
    total = sum(counts.values())
    return {**counts, "total": total}, Group(tuple(counts), total="total")


def test_small_counts_are_fewer_than_five_and_zero_is_zero() -> None:
    counts, group = _table({"a": 0, "b": 3, "c": 20, "d": 9})
    result = suppress(counts, [group])
    assert result.text("a") == "0" or result.shown["a"] is Shown.SECONDARY
    assert result.text("b") == FEWER_THAN
    assert result.text("c") == "20"
    assert result.value("b") is None


def test_one_hidden_cell_makes_the_next_smallest_hidden_too() -> None:
    counts, group = _table({"a": 3, "b": 7, "c": 20})
    result = suppress(counts, [group])
    assert result.shown == {
        "a": Shown.PRIMARY,
        "b": Shown.SECONDARY,
        "c": Shown.VALUE,
        "total": Shown.VALUE,
    }
    assert result.text("b") == NOT_SHOWN


def test_two_hidden_ones_are_not_enough_when_the_sum_gives_them_away() -> None:
    """Total 12, 10 shown: the two hidden "fewer than 5" add up to 2, so each is 1."""
    counts, group = _table({"a": 1, "b": 1, "c": 10})
    result = suppress(counts, [group])
    assert result.shown["c"] is not Shown.VALUE or result.shown["total"] is not Shown.VALUE


def test_a_hidden_zero_beside_a_one_does_not_give_the_one_away() -> None:
    """1 and a secondary 0 add to 1: the 1 would follow (a hidden count is never 1..4 unless
    it says "fewer than 5"), so a third cell is hidden."""
    counts, group = _table({"a": 1, "b": 0, "c": 19})
    result = suppress(counts, [group])
    assert sum(s is not Shown.VALUE for s in result.shown.values()) >= 3


def test_the_same_figure_twice_is_hidden_twice() -> None:
    counts = {"q": 12, "m": 12, "p": 3, "r": 9}
    groups = [equal("q", "m"), Group(("p", "r"), total="m")]
    result = suppress(counts, groups)
    # p primary, r the next smallest: m stays shown, so q does too.
    assert result.shown["r"] is Shown.SECONDARY
    assert result.shown["q"] is Shown.VALUE
    chained = suppress({"q": 4, "m": 4, "p": 4, "r": 0}, [equal("q", "m")])
    assert chained.shown["q"] is chained.shown["m"] is Shown.PRIMARY


def _possible_values(result, group: Group, cell) -> set[int]:  # type: ignore[no-untyped-def]
    """Brute force: every value the hidden cell could take, given what the group shows."""
    hidden = [p for p in group.parts if result.shown[p] is not Shown.VALUE]
    left = result.counts[group.total] - sum(
        result.counts[p] for p in group.parts if result.shown[p] is Shown.VALUE
    )
    domains = [
        range(1, 5) if result.shown[p] is Shown.PRIMARY else [0, *range(5, left + 1)]
        for p in hidden
    ]
    found = set()
    for values in product(*domains):
        if sum(values) == left:
            found.add(values[hidden.index(cell)])
    return found


counts_strategy = st.dictionaries(
    st.sampled_from("abcdef"), st.integers(min_value=0, max_value=40), min_size=1, max_size=5
)


@settings(max_examples=300, deadline=None)
@given(counts_strategy)
def test_no_hidden_count_can_be_derived_from_its_group(parts: dict[str, int]) -> None:
    counts, group = _table(parts)
    result = suppress(counts, [group])
    for cell, count in counts.items():
        if 0 < count < 5:
            assert result.shown[cell] is Shown.PRIMARY
        if count == 0 or count >= 5:
            assert result.shown[cell] is not Shown.PRIMARY
    hidden = [c for c in group.cells if result.shown[c] is not Shown.VALUE]
    assert len(hidden) != 1, "one hidden cell is its total less the others"
    if result.shown["total"] is Shown.VALUE:
        for cell in hidden:
            assert len(_possible_values(result, group, cell)) > 1, (cell, result.shown)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=30), min_size=2, max_size=4),
        min_size=2,
        max_size=4,
    )
)
def test_rows_and_columns_with_totals_protect_every_hidden_count(grid: list[list[int]]) -> None:
    """A table with row and column totals (as months and quarters): each row and each column
    is a group, and none of them lets a hidden count be worked out by subtraction."""
    width = min(len(row) for row in grid)
    grid = [row[:width] for row in grid]
    counts: dict[tuple[object, object], int] = {}
    groups = []
    for r, row in enumerate(grid):
        counts.update({(r, c): v for c, v in enumerate(row)})
        counts[(r, "total")] = sum(row)
        groups.append(Group(tuple((r, c) for c in range(width)), total=(r, "total")))
    for c in range(width):
        counts[("total", c)] = sum(row[c] for row in grid)
        groups.append(Group(tuple((r, c) for r in range(len(grid))), total=("total", c)))
    result = suppress(counts, groups)
    for group in groups:
        hidden = [c for c in group.cells if result.shown[c] is not Shown.VALUE]
        assert len(hidden) != 1
        if result.shown[group.total] is Shown.VALUE:
            for cell in hidden:
                assert len(_possible_values(result, group, cell)) > 1


def _feasible(result, groups: list[Group], cell, top: int = 12) -> set[int]:  # type: ignore[no-untyped-def]
    """Search (backtracking) over every hidden cell (0 to ``top``): the values ``cell`` can
    take that agree with every equation and with what each hidden cell says of itself."""
    hidden = [c for c in result.shown if result.shown[c] is not Shown.VALUE]
    domains = {
        c: range(1, 5) if result.shown[c] is Shown.PRIMARY else [0, *range(5, top + 1)]
        for c in hidden
    }
    value = {c: n for c, n in result.counts.items() if result.shown[c] is Shown.VALUE}
    found: set[int] = set()

    def holds(g: Group) -> bool:
        if any(c not in value for c in g.cells):
            return True
        total = sum(value[p] for p in g.parts) - sum(value[m] for m in g.minus)
        return value[g.total] == total

    def assign(n: int) -> None:
        if n == len(hidden):
            found.add(value[cell])
            return
        for v in domains[hidden[n]]:
            value[hidden[n]] = v
            if all(holds(g) for g in groups if hidden[n] in g.cells):
                assign(n + 1)
            del value[hidden[n]]

    assign(0)
    return found


def test_a_count_pinned_down_by_combining_groups_is_hidden_too() -> None:
    """April: 6 on the register (none in March, 6 new, none left), all 6 with a GP, 1 on a
    plan. Hiding the plan and its complement and then the register is not enough: the register
    is at most 0 + 6 (the month's equation) and at least the 6 with a GP, so it is 6 again and
    the plan is 1. Combining the equations, more is hidden until the plan could be 1 to 4."""
    counts = {
        "reg_mar": 0,
        "reg_apr": 6,
        "new": 6,
        "ended": 0,
        "gp": 6,
        "no_gp": 0,
        "plan": 1,
        "no_plan": 5,
        "gp_mar": 0,
        "no_gp_mar": 0,
        "plan_mar": 0,
        "no_plan_mar": 0,
    }
    groups = [
        Group(("gp_mar", "no_gp_mar"), total="reg_mar"),  # March's figures: all 0
        Group(("plan_mar", "no_plan_mar"), total="reg_mar"),
        Group(("reg_mar", "new"), total="reg_apr", minus=("ended",)),
        Group(("gp", "no_gp"), total="reg_apr"),
        Group(("plan", "no_plan"), total="reg_apr"),
    ]
    result = suppress(counts, groups)
    assert result.shown["plan"] is Shown.PRIMARY
    assert len(_feasible(result, groups, "plan")) > 1, result.shown
