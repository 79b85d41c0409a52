"""A trained linkage model's match weights, applied in Python to a few pairs at a time.

Fellegi-Sunter as Splink computes it: a pair's match weight is the prior (log2 of the odds that
two random records match) plus, for each comparison, log2(m/u) of the level the pair reaches
(0 for a null level), and on a term-frequency adjusted level log2(u / tf of the value) as well
(the model's own term frequencies, ``probabilistic.model_term_frequencies``); its match
probability is 2^w / (1 + 2^w). The level weights are read from
the saved model JSON once per model file, as Splink reads them (its defaults for levels never
estimated, its floors); only a model whose comparisons are ours (``levels.SQL``) is read:
anything else is refused rather than misread.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.linkage.levels import DECIDERS, SAYS, SQL, Compared, Decider, can_compare
from gateway.linkage.probabilistic import (
    TermFrequencies,
    current_model,
    model_term_frequencies,
)

log = logging.getLogger(__name__)


CLAMP = 1e-300  # Splink's floor for m and u (M_U_CLAMP_MIN)
NOT_OBSERVED_TEXT = "level not observed in training dataset"  # Splink's LEVEL_NOT_OBSERVED_TEXT


class UnusableModelError(ValueError):
    """The saved model's comparisons are not the ones this code knows how to compare."""


@dataclass(frozen=True)
class Contribution:
    """One comparison's part in a pair's match weight."""

    comparison: str
    level: int
    weight: float

    @property
    def says(self) -> str:
        return SAYS[self.comparison][self.level]


@dataclass(slots=True)
class Weighed:
    """A pair's match weight, and the level reached and weight added by each comparison that
    was not null (comparison, level, weight)."""

    weight: float
    reached: tuple[tuple[str, int, float], ...]

    @property
    def probability(self) -> float:
        return probability_of(self.weight)

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        return tuple(Contribution(*part) for part in self.reached)


def probability_of(weight: float) -> float:
    if weight > 1000:
        return 1.0
    odds = 2.0**weight
    return odds / (1 + odds)


@dataclass(frozen=True)
class TermAdjustment:
    """Splink's term-frequency adjustment of one level: weight * (log2 u - log2 tf(value))."""

    level: int
    column: str
    log2_u: float
    weight: float
    frequencies: dict[str, float]

    def of(self, value: str | None) -> float:
        tf = self.frequencies.get(value) if value is not None else None
        return self.weight * (self.log2_u - math.log2(tf)) if tf else 0.0


@dataclass
class MatchWeights:
    """The prior and each comparison's weight per level, in ``levels.SQL`` order, and the
    term-frequency adjustments of the levels that have one."""

    model: str
    prior: float
    levels: dict[str, tuple[float, ...]]
    adjustments: dict[str, TermAdjustment] = field(default_factory=dict)
    _deciding: list[tuple[str, Decider, tuple[float, ...], TermAdjustment | None]] = field(
        init=False, repr=False
    )

    def __post_init__(self) -> None:
        self._deciding = [
            (c, DECIDERS[c], weights, self.adjustments.get(c)) for c, weights in self.levels.items()
        ]

    def weigh(self, left: Compared, right: Compared) -> Weighed:
        """The pair's match weight and each non-null comparison's part in it."""
        return self.weigher(left)(right)

    def weigher(self, left: Compared) -> Callable[[Compared], Weighed]:
        """``weigh`` with ``left`` fixed, leaving out the comparisons it makes null (a search
        weighs its query against up to hundreds of records a request)."""
        deciding = [part for part in self._deciding if can_compare(part[0], left)]
        prior = self.prior

        def weigh_against(right: Compared) -> Weighed:
            total = prior
            reached = []
            for comparison, decide, weights, adjustment in deciding:
                level = decide(left, right)
                if level:  # level 0 is the null level: no evidence either way
                    weight = weights[level]
                    if adjustment is not None and adjustment.level == level:
                        weight += adjustment.of(getattr(left.row, adjustment.column))
                    total += weight
                    reached.append((comparison, level, weight))
            return Weighed(total, tuple(reached))

        return weigh_against


def weights_of(document: dict[str, Any], model: str) -> MatchWeights:
    """The weights of a saved model document; ``UnusableModelError`` if its comparisons are
    not ours (other levels, another order, or term-frequency adjustments elsewhere)."""
    levels: dict[str, tuple[float, ...]] = {}
    adjustments: dict[str, TermAdjustment] = {}
    frequencies = model_term_frequencies(document)
    for comparison in document.get("comparisons", []):
        name = comparison.get("output_column_name")
        held = comparison.get("comparison_levels", [])
        if name not in SQL or tuple(level.get("sql_condition") for level in held) != SQL[name]:
            raise UnusableModelError(f"comparison {name!r} is not one this search can evaluate")
        levels[name] = _level_weights(held)
        adjustment = _adjustment(name, held, frequencies)
        if adjustment is not None:
            adjustments[name] = adjustment
    if set(levels) != set(SQL):
        raise UnusableModelError("the model's comparisons are not the linkage comparisons")
    prior = float(document["probability_two_random_records_match"])
    return MatchWeights(model, math.log2(prior / (1 - prior)), levels, adjustments)


def weights_in(path: Path) -> MatchWeights:
    """The weights of the saved model at ``path`` (``weights_of`` its document)."""
    return weights_of(json.loads(path.read_text(encoding="utf-8")), path.stem)


def _adjustment(
    name: str, levels: list[dict[str, Any]], frequencies: TermFrequencies
) -> TermAdjustment | None:
    """The comparison's term-frequency adjusted level (its exact match on the column), if any."""
    adjusted = [(n, lv) for n, lv in enumerate(levels) if lv.get("tf_adjustment_column")]
    if not adjusted:
        return None
    expected = SQL[name][adjusted[0][0]]
    (index, level), *others = adjusted
    column = level["tf_adjustment_column"]
    if others or expected != f'"{column}_l" = "{column}_r"' or column not in frequencies:
        raise UnusableModelError(f"comparison {name!r} has term-frequency adjustments elsewhere")
    log2_u = math.log2(max(_level_u(levels, index), CLAMP))
    weight = float(level.get("tf_adjustment_weight", 1.0))
    return TermAdjustment(index, column, log2_u, weight, frequencies[column])


def _level_weights(levels: list[dict[str, Any]]) -> tuple[float, ...]:
    """log2(m/u) of each level as Splink 5 reads a saved model (``ComparisonLevel``): 0 for
    the null level; an m or u never estimated (or "level not observed") takes Splink's
    default for the level's place (``_default_m_values``, ``_default_u_values``: m 0.95 for
    the top level, the rest of 1 shared by the others; u such that the default weights run
    from -5 at the else level to 3 below the top, and 10 at the top); both floored at 1e-300.
    Done here rather than by Splink's classes, which would import Splink into the API.
    ``tests/test_search_ranking.py`` checks the result against Splink's own reading."""
    return tuple(
        0.0 if mu is None else math.log2(max(mu[0], CLAMP) / max(mu[1], CLAMP))
        for mu in _m_and_u(levels)
    )


def _level_u(levels: list[dict[str, Any]], index: int) -> float:
    mu = _m_and_u(levels)[index]
    assert mu is not None, "a null level has no u"
    return mu[1]


def _m_and_u(levels: list[dict[str, Any]]) -> list[tuple[float, float] | None]:
    """Each level's m and u, Splink's defaults where not estimated; None for the null level."""
    count = sum(1 for level in levels if not level.get("is_null_level"))
    default_m = [0.05 / (count - 1)] * (count - 1) + [0.95]
    default_w = ([-5.0] if count == 2 else _interpolate(-5, 3, count - 1)) + [10.0]
    result: list[tuple[float, float] | None] = []
    place = count  # Splink's comparison vector value: count - 1 for the top level, 0 for else
    for level in levels:
        if level.get("is_null_level"):
            result.append(None)
            continue
        place -= 1
        m = _probability(level.get("m_probability"), default_m[place])
        u = _probability(level.get("u_probability"), default_m[place] / 2 ** default_w[place])
        result.append((m, u))
    return result


def _probability(value: Any, default: float) -> float:
    return default if value is None or value == NOT_OBSERVED_TEXT else float(value)


def _interpolate(start: float, end: float, count: int) -> list[float]:
    step = (end - start) / (count - 1)
    return [start + i * step for i in range(count)]


def current_weights() -> MatchWeights | None:
    """The newest trained model's weights, or None when there is none (or none usable).

    Each model file is read once (a new version, or a rewritten file, is read afresh)."""
    path = current_model()
    if path is None:
        return None
    try:
        modified = path.stat().st_mtime_ns
    except OSError:  # replaced between listing and reading: the next search reads it
        return None
    return _load(path, modified)


@functools.lru_cache(maxsize=4)
def _load(path: Path, modified: int) -> MatchWeights | None:
    """The model's weights; None (said once in the log) if it cannot be read or is not ours."""
    try:
        return weights_in(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("linkage model %s not used to rank searches: %s", path.name, exc)
        return None
