"""A trained linkage model's match weights, applied in Python to a few pairs at a time.

Fellegi-Sunter as Splink computes it: a pair's match weight is the prior (log2 of the odds that
two random records match) plus, for each comparison, log2(m/u) of the level the pair reaches
(0 for a null level); its match probability is 2^w / (1 + 2^w). Splink itself reads the level
weights from the saved model JSON, once per model file, so defaults and clamps are its own;
only a model whose comparisons are ours (``levels.SQL``) is read: anything else is refused
rather than misread.
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
from gateway.linkage.probabilistic import current_model

log = logging.getLogger(__name__)


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


@dataclass
class MatchWeights:
    """The prior and each comparison's weight per level, in ``levels.SQL`` order."""

    model: str
    prior: float
    levels: dict[str, tuple[float, ...]]
    _deciding: list[tuple[str, Decider, tuple[float, ...]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deciding = [(c, DECIDERS[c], weights) for c, weights in self.levels.items()]

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
            for comparison, decide, weights in deciding:
                level = decide(left, right)
                if level:  # level 0 is the null level: no evidence either way
                    total += weights[level]
                    reached.append((comparison, level, weights[level]))
            return Weighed(total, tuple(reached))

        return weigh_against


def weights_of(document: dict[str, Any], model: str) -> MatchWeights:
    """The weights of a saved model document, as Splink reads them (a level the model never
    estimated takes Splink's default); ``UnusableModelError`` if its comparisons are not ours
    (other levels, another order, or term-frequency adjustments)."""
    known = set()
    for comparison in document.get("comparisons", []):
        name = comparison.get("output_column_name")
        held = comparison.get("comparison_levels", [])
        if name not in SQL or tuple(level.get("sql_condition") for level in held) != SQL[name]:
            raise UnusableModelError(f"comparison {name!r} is not one this search can evaluate")
        if any(level.get("tf_adjustment_column") for level in held):
            raise UnusableModelError(f"comparison {name!r} has term-frequency adjustments")
        known.add(name)
    if known != set(SQL):
        raise UnusableModelError("the model's comparisons are not the linkage comparisons")
    from splink.internals.settings_creator import SettingsCreator  # once per model file

    settings_dict = {k: v for k, v in document.items() if k != "ehe_gateway"}
    settings = SettingsCreator.from_path_or_dict(settings_dict).get_settings("duckdb")
    levels = {
        comparison.output_column_name: tuple(
            float(level._match_weight or 0.0) for level in comparison.comparison_levels
        )
        for comparison in settings.comparisons
    }
    prior = float(settings._probability_two_random_records_match)
    return MatchWeights(model, math.log2(prior / (1 - prior)), levels)


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
        document = json.loads(path.read_text(encoding="utf-8"))
        return weights_of(document, path.stem)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("linkage model %s not used to rank searches: %s", path.name, exc)
        return None
