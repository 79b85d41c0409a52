"""How far a reader can narrow each hidden count using every published equation together.

Each group is an equation (a total is its parts, less any parts taken away). Starting from
what is shown (a count), what "fewer than 5" says (1 to 4) and what "not shown" says (0, or 5
or more), every equation in turn narrows each hidden cell's least and most possible values from
the others', until nothing changes (interval propagation: what subtraction and "a part is no
more than its total" give a reader, across groups). A hidden "fewer than 5" whose least and most
are equal can be worked out: ``suppression`` hides more until none can.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

Term = tuple[Hashable, int]  # a cell and its sign in an equation that sums to 0
MAX_ROUNDS = 200


def _narrow_once(
    terms: list[Term], lo: dict[Hashable, int], hi: dict[Hashable, int], never_small: set[Hashable]
) -> bool:
    changed = False
    for cell, sign in terms:
        # sign * cell = -(sum of the others' signed values)
        rest_lo = sum(-s * (hi[c] if s > 0 else lo[c]) for c, s in terms if c != cell)
        rest_hi = sum(-s * (lo[c] if s > 0 else hi[c]) for c, s in terms if c != cell)
        least, most = (rest_lo, rest_hi) if sign > 0 else (-rest_hi, -rest_lo)
        new_lo, new_hi = max(lo[cell], least), min(hi[cell], most)
        if cell in never_small:  # "not shown" is 0 or 5 and more, never 1 to 4
            new_lo = 5 if 0 < new_lo < 5 else new_lo
            new_hi = 0 if 0 < new_hi < 5 else new_hi
        if new_lo > new_hi:  # the equations disagree with the domains: leave as it was
            continue
        if (new_lo, new_hi) != (lo[cell], hi[cell]):
            lo[cell], hi[cell] = new_lo, new_hi
            changed = True
    return changed


def narrowed(
    known: Mapping[Hashable, int],
    small: Iterable[Hashable],
    hidden: Iterable[Hashable],
    equations: list[list[Term]],
) -> dict[Hashable, tuple[int, int]]:
    """Each cell's least and most possible value: ``known`` cells are their counts, ``small``
    ones 1 to 4, ``hidden`` ones 0 or 5 and more (up to the sum of everything shown)."""
    cap = max(sum(known.values()), 5)
    lo: dict[Hashable, int] = dict(known)
    hi: dict[Hashable, int] = dict(known)
    for cell in small:
        lo[cell], hi[cell] = 1, 4
    never_small = set(hidden)
    for cell in never_small:
        lo[cell], hi[cell] = 0, cap
    for _ in range(MAX_ROUNDS):
        if not any([_narrow_once(terms, lo, hi, never_small) for terms in equations]):
            break
    return {cell: (lo[cell], hi[cell]) for cell in lo}
