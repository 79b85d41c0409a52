"""Probabilistic scoring with Splink (Fellegi-Sunter) for records no identifier joins.

Settings are data (``linkage_settings``); a model is trained by an explicit step
(``train_model``: u by random sampling with a fixed seed, m by expectation maximisation),
saved as versioned JSON under the data folder, and only then used by linkage. Thresholds are
match probabilities. Scoring returns pairs with their per-field match weights as evidence.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway import config
from gateway.linkage.names import canonical_forename, forename_forms

log = logging.getLogger(__name__)
FIELDS = (
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "postcode",
    "address",
    "nhs_number",
    "upn",
)
# At or above: linked automatically. On the synthetic population at 10,000 children every
# pair of two children scoring 0.998 or more is twin-shaped (the twin guard sends it to review);
# see benchmarks/bench_linkage.py, which prints the figures for this threshold.
UPPER = 0.998
LOWER = 0.9  # between the two: a possible match for review
SEED = 20261129


@dataclass(frozen=True)
class PersonRow:
    """What scoring compares of one current source record (valid identifiers only)."""

    key: tuple[str, str]
    given_name: str | None
    family_name: str | None
    birth_date: str | None
    sex: str | None
    postcode: str | None
    nhs_number: str | None
    upn: str | None
    address: str | None = None


@dataclass(frozen=True)
class ScoredPair:
    left: tuple[str, str]
    right: tuple[str, str]
    probability: float
    weights: dict[str, float]


def models_dir() -> Path:
    return config.data_dir() / "linkage"


def current_model() -> Path | None:
    """The newest trained model, or None if linkage has never been trained here."""
    models = sorted(models_dir().glob("model-v*.json"))
    return models[-1] if models else None


def linkage_settings() -> Any:
    """Our comparisons: nicknames, typos, day/month swaps and a household's place."""
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=[
            block_on("birth_date"),
            block_on("given_canonical", "family_name"),
            block_on("postcode", "substr(given_name, 1, 1)"),
            "l.birth_date = r.birth_date_swapped and l.family_name = r.family_name",
            block_on("family_name", "substr(birth_date, 1, 7)"),
            block_on("given_canonical", "substr(birth_date, 1, 4)"),
        ],
        retain_intermediate_calculation_columns=True,
    )


def comparisons() -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def levels(column: str, *middle: Any) -> Any:
        return cl.CustomComparison(
            [cll.NullLevel(column), cll.ExactMatchLevel(column), *middle, cll.ElseLevel()],
            output_column_name=column,
        )

    return [
        levels(
            "given_name",
            cll.ArrayIntersectLevel("given_forms", 1).configure(label_for_charts="nickname"),
            cll.DamerauLevenshteinLevel("given_name", 1),
            cll.JaroWinklerLevel("given_name", 0.88),
        ),
        levels(
            "family_name",
            cll.DamerauLevenshteinLevel("family_name", 1),
            cll.JaroWinklerLevel("family_name", 0.88),
        ),
        levels(
            "birth_date",
            cll.CustomLevel("birth_date_l = birth_date_swapped_r", "day and month swapped"),
            cll.DamerauLevenshteinLevel("birth_date", 1),
            cll.CustomLevel("substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)", "same year"),
        ),
        cl.ExactMatch("sex"),
        _place(),
        cl.ExactMatch("nhs_number"),
        cl.ExactMatch("upn"),
    ]


def _place() -> Any:
    """Postcode, or the address where a postcode is missing: one comparison, not two."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    no_postcode = "(postcode_l is null or postcode_r is null)"
    return cl.CustomComparison(
        [
            cll.And(cll.NullLevel("postcode"), cll.NullLevel("address")),
            cll.ExactMatchLevel("postcode"),
            cll.CustomLevel(f"{no_postcode} and address_l = address_r", "same address"),
            cll.CustomLevel(
                "split_part(postcode_l, ' ', 1) = split_part(postcode_r, ' ', 1)",
                "same postcode district",
            ),
            cll.ElseLevel(),
        ],
        output_column_name="place",
    )


def generic_settings() -> Any:
    """Splink's own generic comparisons on the same columns (for the benchmark)."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ForenameSurnameComparison("given_name", "family_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("nhs_number"),
            cl.ExactMatch("upn"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date"),
            block_on("family_name", "given_name"),
            block_on("postcode", "substr(given_name, 1, 1)"),
        ],
        retain_intermediate_calculation_columns=True,
    )


def _frame(rows: Sequence[PersonRow]) -> Any:
    import pandas as pd

    return pd.DataFrame([_columns(r) for r in rows])


def _columns(row: PersonRow) -> dict[str, Any]:
    columns: dict[str, Any] = {"unique_id": f"{row.key[0]}/{row.key[1]}"}
    columns.update((f, getattr(row, f)) for f in FIELDS)
    columns["given_canonical"] = canonical_forename(row.given_name)
    columns["given_forms"] = forename_forms(row.given_name) or None
    born = row.birth_date
    columns["birth_date_swapped"] = (
        f"{born[:4]}-{born[8:10]}-{born[5:7]}" if born and len(born) == 10 else None
    )
    return columns


def _linker(rows: Sequence[PersonRow], settings: Any) -> Any:
    from splink import DuckDBAPI, Linker

    db = DuckDBAPI()
    return Linker(db.register(_frame(rows)), settings, log_level=None)


def train_model(
    rows: Sequence[PersonRow], folder: Path | None = None, settings: Any = None
) -> Path:
    """Train on the records (u by random sampling, m by EM) and save a new model version."""
    linker = _linker(rows, settings if settings is not None else linkage_settings())
    _train(linker)
    folder = folder or models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    version = len(list(folder.glob("model-v*.json"))) + 1
    path = folder / f"model-v{version:04d}.json"
    model = without_matches_in_u(linker.misc.save_model_to_json())
    model["ehe_gateway"] = {
        "version": version,
        "trained_on_records": len(rows),
        "trained_at": datetime.now(UTC).isoformat(),
    }
    path.write_text(json.dumps(model, indent=2, sort_keys=True), encoding="utf-8")
    log.info("linkage model v%d trained on %d records", version, len(rows))
    return path


def without_matches_in_u(model: dict[str, Any]) -> dict[str, Any]:
    """Take the true matches out of the u probabilities random sampling estimated.

    Random pairs include true matches (a share equal to the prior, each agreeing as m says),
    which inflates u where m is high: on a population of a few thousand, agreeing on a full
    birth date then counts a bit or more less than it should. u' = (u - prior * m) / (1 - prior),
    kept above a tenth of u and rescaled so each comparison's u still sums as before.
    """
    prior = float(model["probability_two_random_records_match"])
    for comparison in model["comparisons"]:
        levels = [
            level
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level") and "u_probability" in level
        ]
        total = sum(float(level["u_probability"]) for level in levels)
        adjusted = [
            max(
                (float(level["u_probability"]) - prior * float(level.get("m_probability", 0)))
                / (1 - prior),
                0.1 * float(level["u_probability"]),
            )
            for level in levels
        ]
        scale = total / sum(adjusted) if sum(adjusted) else 1.0
        for level, u in zip(levels, adjusted, strict=True):
            level["u_probability"] = u * scale
    return model


def _train(linker: Any) -> None:
    from splink import block_on

    training = linker.training
    training.estimate_probability_two_random_records_match(
        [
            block_on("nhs_number"),
            block_on("upn"),
            block_on("given_name", "family_name", "birth_date"),
        ],
        recall=0.8,
    )
    training.estimate_u_using_random_sampling(max_pairs=2e6, seed=SEED)
    training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_date"), estimate_without_term_frequencies=True
    )
    training.estimate_parameters_using_expectation_maximisation(
        block_on("family_name", "substr(given_name, 1, 1)"),
        estimate_without_term_frequencies=True,
    )


def score_pairs(rows: Sequence[PersonRow], model: Path, lower: float = LOWER) -> list[ScoredPair]:
    """Pairs scoring at or above ``lower``, with each field's match weight."""
    if len(rows) < 2:
        return []
    document = _document(model)
    linker = _linker(rows, document)
    frame = linker.inference.predict(threshold_match_probability=lower).as_pandas_dataframe()
    return _pairs(frame, document)


def score_between(
    new: Sequence[PersonRow], others: Sequence[PersonRow], model: Path, lower: float = LOWER
) -> list[ScoredPair]:
    """Pairs of a new record and an indexed one scoring at or above ``lower`` (Splink's
    ``predict_between`` with the model's blocking rules, both ways round, as a dedupe run
    compares a pair whichever record comes first)."""
    if not new or not others:
        return []
    from splink import DuckDBAPI, Linker

    document = _document(model)
    db = DuckDBAPI()
    left = db.register(_frame(new))
    right = db.register(_frame(others))
    linker = Linker(left, document, log_level=None)
    pairs: dict[tuple[tuple[str, str], tuple[str, str]], ScoredPair] = {}
    for a, b in ((left, right), (right, left)):
        predicted = linker.inference.predict_between(a, b, threshold_match_probability=lower)
        for pair in _pairs(predicted.as_pandas_dataframe(), document):
            pairs.setdefault((min(pair.left, pair.right), max(pair.left, pair.right)), pair)
    return list(pairs.values())


def _document(model: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(model.read_text(encoding="utf-8"))
    document.pop("ehe_gateway", None)
    return document


def _pairs(frame: Any, document: dict[str, Any]) -> list[ScoredPair]:
    compared = [c[3:] for c in frame.columns if c.startswith("mw_") and "_tf_adj_" not in c]
    compared = [c for c in compared if not c.startswith("tf_adj_")]
    prior = round(_prior_weight(document), 3)
    pairs = []
    for item in frame.to_dict("records"):
        weights = {"prior": prior}
        weights.update((c, _match_weight(item, c)) for c in compared)
        pairs.append(
            ScoredPair(
                _key(item["unique_id_l"]),
                _key(item["unique_id_r"]),
                float(item["match_probability"]),
                weights,
            )
        )
    return pairs


def _prior_weight(document: dict[str, Any]) -> float:
    """The model's starting weight: log2 of the prior odds that two records match."""
    p = float(document["probability_two_random_records_match"])
    return math.log2(p / (1 - p))


def _match_weight(item: dict[str, Any], comparison: str) -> float:
    """The comparison's match weight (log2 Bayes factor), term-frequency adjustment included."""
    total = 0.0
    for column in (f"mw_{comparison}", f"mw_tf_adj_{comparison}"):
        value = item.get(column)
        if value is not None and not math.isnan(float(value)):
            total += float(value)
    return round(total, 3)


def _key(unique_id: str) -> tuple[str, str]:
    source, record_id = unique_id.split("/", 1)
    return source, record_id
