"""Our comparisons (``spec.COMPARISONS``) decided in Python, one pair at a time.

Splink decides which level of each comparison a pair reaches in SQL, over whole tables; a
demographic search compares one query with a few dozen records and cannot wait for that. Each
decider here returns the index of the level Splink would choose (the first whose condition
holds), and ``SQL`` holds the conditions as a saved model writes them, so a model trained on
other comparisons is recognised and not misread (``match_weights.load_weights`` checks). All
three are generated from the specification, so they cannot drift from the Splink settings.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.linkage.spec import COMPARISONS, Compared, Comparison

__all__ = ["DECIDERS", "NEEDS", "SAYS", "SQL", "Compared", "Decider", "can_compare"]

Decider = Callable[[Compared, Compared], int]


def _decider(comparison: Comparison) -> Decider:
    null, *levels = comparison.levels
    tests = [(index, level.holds) for index, level in enumerate(levels, start=1)]

    def decide(left: Compared, right: Compared) -> int:
        if null.holds(left, right):
            return 0
        for index, holds in tests:
            if holds(left, right):
                return index
        return len(comparison.levels) - 1

    decide.__name__ = comparison.name
    return decide


DECIDERS: dict[str, Decider] = {c.name: _decider(c) for c in COMPARISONS}

# The fields of one side without which a comparison is null whatever the other side holds.
NEEDS: dict[str, tuple[str, ...]] = {c.name: c.needs for c in COMPARISONS}

# Each comparison's level conditions, in order, as a saved Splink model holds them.
SQL: dict[str, tuple[str, ...]] = {c.name: tuple(lv.sql for lv in c.levels) for c in COMPARISONS}

# What each level means, said of a search candidate (never the values compared).
SAYS: dict[str, tuple[str, ...]] = {c.name: tuple(lv.says for lv in c.levels) for c in COMPARISONS}


def can_compare(comparison: str, side: Compared) -> bool:
    """Whether the comparison can reach a level other than null with this side in it."""
    return any(getattr(side.row, name) is not None for name in NEEDS[comparison])
