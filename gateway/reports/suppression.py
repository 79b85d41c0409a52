"""Small-number suppression for published counts: primary and secondary, as pure functions.

A count of 1 to 4 is *primary* suppressed (shown as "fewer than 5"); 0 is shown as 0. Counts
are tied together by *groups*: a total and the parts that add up to it (registered children:
those matched to a GP and those not), two cells that must be equal (a quarter's children
registered at its end and its last month's), or cells linked by one sum (this month's register
is last month's plus the new less the ended). In any group where a suppressed count could be
worked out from the counts shown (one suppressed cell alone; or several whose ranges leave one
of them a single possible value), the smallest count not yet suppressed in that group is
suppressed too (*secondary*, shown as "not shown"; of the counts in fewest groups, so a total
tied to many parts is hidden last), until no group gives one away. Suppression only ever
grows, so this ends.

Then all the equations together (``suppression_bounds``): where a reader could pin a "fewer
than 5" down to one value by combining groups (a part is no more than its total; one group's
answer put into another), one more count is hidden, until none can be. Limits: that combining is
interval reasoning, the way a reader works by hand; a determined one solving every equation at
once (linear programming) could in rare tables narrow a range further.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from gateway.reports.suppression_bounds import Term, narrowed

SMALLEST_SHOWN = 5  # counts from 1 to SMALLEST_SHOWN - 1 are suppressed
FEWER_THAN = f"fewer than {SMALLEST_SHOWN}"
NOT_SHOWN = "not shown"


class Shown(Enum):
    VALUE = "value"
    PRIMARY = "primary"  # 1..4: "fewer than 5"
    SECONDARY = "secondary"  # suppressed so a primary cell cannot be derived: "not shown"


@dataclass(frozen=True)
class Group:
    """Cells tied by one equation. With ``total``: total = sum of ``parts`` less the sum of
    ``minus``. Without: the cells are linked by some sum, so any one follows from the others."""

    parts: tuple[Hashable, ...]
    total: Hashable | None = None
    minus: tuple[Hashable, ...] = ()

    @property
    def cells(self) -> tuple[Hashable, ...]:
        cells = (*self.parts, *self.minus)
        return cells if self.total is None else (self.total, *cells)

    def terms(self) -> list[Term]:
        """The equation as signed cells summing to 0 (none without a total)."""
        if self.total is None:
            return []
        return [(self.total, 1), *((p, -1) for p in self.parts), *((m, 1) for m in self.minus)]


def equal(first: Hashable, second: Hashable) -> Group:
    """Two cells that always hold the same count (the same figure shown twice)."""
    return Group((second,), total=first)


@dataclass
class Suppressed:
    """Each cell's count and how it is shown."""

    counts: dict[Hashable, int]
    shown: dict[Hashable, Shown] = field(default_factory=dict)

    def text(self, cell: Hashable) -> str:
        """The cell as a person reads it: the count, "fewer than 5" or "not shown"."""
        state = self.shown[cell]
        if state is Shown.PRIMARY:
            return FEWER_THAN
        if state is Shown.SECONDARY:
            return NOT_SHOWN
        return str(self.counts[cell])

    def value(self, cell: Hashable) -> int | None:
        """The count if it is shown, else None."""
        return self.counts[cell] if self.shown[cell] is Shown.VALUE else None


def is_small(count: int) -> bool:
    return 0 < count < SMALLEST_SHOWN


def suppress(counts: Mapping[Hashable, int], groups: Iterable[Group]) -> Suppressed:
    """Primary suppression of every small count, then secondary suppression group by group
    until no group lets a suppressed count be derived from what is shown."""
    result = Suppressed(dict(counts))
    result.shown = {c: Shown.PRIMARY if is_small(n) else Shown.VALUE for c, n in counts.items()}
    every = [g for g in groups if len(g.cells) > 1]
    ties: dict[Hashable, int] = {}
    for group in every:
        for cell in group.cells:
            ties[cell] = ties.get(cell, 0) + 1
    equations = [terms for g in every if (terms := g.terms())]
    changed = True
    while changed:
        changed = False
        for group in every:
            if _gives_away(result, group):
                changed = _suppress_next(result, group, ties) or changed
        if not changed:  # each group keeps its secrets: now all the equations together
            changed = _hide_what_the_equations_give_away(result, every, equations, ties)
    return result


def _hide_what_the_equations_give_away(
    result: Suppressed, groups: list[Group], equations: list[list[Term]], ties: dict[Hashable, int]
) -> bool:
    """Hide one more count in a group of the first "fewer than 5" the equations together pin
    down to one value; False when none is."""
    state = result.shown
    bounds = narrowed(
        {c: n for c, n in result.counts.items() if state[c] is Shown.VALUE},
        [c for c in state if state[c] is Shown.PRIMARY],
        [c for c in state if state[c] is Shown.SECONDARY],
        equations,
    )
    for cell, (lo, hi) in bounds.items():
        if state[cell] is Shown.PRIMARY and lo == hi:
            for group in _nearest_first(groups, cell):
                if _suppress_next(result, group, ties):
                    return True
    return False


def _nearest_first(groups: list[Group], cell: Hashable) -> list[Group]:
    """The groups the cell is in, then those sharing a cell with them, and so on: where a
    count is pinned down, hiding one more nearest to it is the least that can undo it."""
    ordered: list[Group] = []
    reached, frontier = {cell}, {cell}
    while frontier:
        step = [g for g in groups if g not in ordered and frontier & set(g.cells)]
        ordered += step
        frontier = {c for g in step for c in g.cells} - reached
        reached |= frontier
    return ordered


def _gives_away(result: Suppressed, group: Group) -> bool:
    hidden = [c for c in group.cells if result.shown[c] is not Shown.VALUE]
    if len(hidden) == 1:
        return True
    return bool(hidden) and any(_single(v) for v in possible(result, group).values())


Spans = list[tuple[int, int]]  # a set of whole numbers as sorted, disjoint (least, most) spans


def _merge(spans: Iterable[tuple[int, int]]) -> Spans:
    merged: Spans = []
    for lo, hi in sorted(s for s in spans if s[0] <= s[1]):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _add(first: Spans, second: Spans, cap: int) -> Spans:
    return _merge((a + c, min(b + d, cap)) for a, b in first for c, d in second if a + c <= cap)


def _single(spans: Spans) -> bool:
    return len(spans) == 1 and spans[0][0] == spans[0][1]


def possible(result: Suppressed, group: Group) -> dict[Hashable, Spans]:
    """For a group with its total shown, the values each suppressed part could take given the
    counts shown and what a suppressed count may be (1 to 4 for "fewer than 5"; 0, or 5 and
    more, for "not shown"). Empty when the total is not shown."""
    if group.total is None or group.minus or result.shown[group.total] is not Shown.VALUE:
        return {}
    hidden = [p for p in group.parts if result.shown[p] is not Shown.VALUE]
    left = result.counts[group.total] - sum(
        result.counts[p] for p in group.parts if result.shown[p] is Shown.VALUE
    )
    domain = {
        p: [(1, SMALLEST_SHOWN - 1)]
        if result.shown[p] is Shown.PRIMARY
        else _merge([(0, 0), (SMALLEST_SHOWN, max(left, 0))])
        for p in hidden
    }
    found = {}
    for part in hidden:
        others: Spans = [(0, 0)]
        for other in hidden:
            if other != part:
                others = _add(others, domain[other], max(left, 0))
        rest = _merge((left - hi, left - lo) for lo, hi in others)
        found[part] = _merge((max(a, c), min(b, d)) for a, b in domain[part] for c, d in rest)
    return found


def _suppress_next(result: Suppressed, group: Group, ties: dict[Hashable, int]) -> bool:
    """Suppress the smallest count still shown in the group, of those in the fewest groups (a
    total of many parts, hidden, would spread hiding to all of them); the first on a tie.
    False when every cell is already suppressed."""
    shown = [c for c in group.cells if result.shown[c] is Shown.VALUE]
    if not shown:
        return False
    smallest = min(shown, key=lambda c: (ties[c], result.counts[c]))
    result.shown[smallest] = Shown.SECONDARY
    return True
