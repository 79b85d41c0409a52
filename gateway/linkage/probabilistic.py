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

log = logging.getLogger(__name__)
FIELDS = ("given_name", "family_name", "birth_date", "sex", "postcode", "nhs_number", "upn")
COMPARED = ("given_name_family_name", "birth_date", "sex", "postcode", "nhs_number", "upn")
UPPER = 0.999  # at or above: linked automatically
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

    return pd.DataFrame(
        [
            {"unique_id": f"{r.key[0]}/{r.key[1]}", **{f: getattr(r, f) for f in FIELDS}}
            for r in rows
        ]
    )


def _linker(rows: Sequence[PersonRow], settings: Any) -> Any:
    from splink import DuckDBAPI, Linker

    db = DuckDBAPI()
    return Linker(db.register(_frame(rows)), settings, log_level=None)


def train_model(rows: Sequence[PersonRow]) -> Path:
    """Train on the records (u by random sampling, m by EM) and save a new model version."""
    from splink import block_on

    linker = _linker(rows, linkage_settings())
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("nhs_number"), block_on("upn")], recall=0.6
    )
    training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
    training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    training.estimate_parameters_using_expectation_maximisation(
        block_on("family_name", "given_name")
    )
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    version = len(list(folder.glob("model-v*.json"))) + 1
    path = folder / f"model-v{version:04d}.json"
    model = linker.misc.save_model_to_json()
    model["ehe_gateway"] = {
        "version": version,
        "trained_on_records": len(rows),
        "trained_at": datetime.now(UTC).isoformat(),
    }
    path.write_text(json.dumps(model, indent=2, sort_keys=True), encoding="utf-8")
    log.info("linkage model v%d trained on %d records", version, len(rows))
    return path


def score_pairs(rows: Sequence[PersonRow], model: Path, lower: float = LOWER) -> list[ScoredPair]:
    """Pairs scoring at or above ``lower``, with each field's match weight."""
    if len(rows) < 2:
        return []
    document = json.loads(model.read_text(encoding="utf-8"))
    document.pop("ehe_gateway", None)
    linker = _linker(rows, document)
    frame = linker.inference.predict(threshold_match_probability=lower).as_pandas_dataframe()
    pairs = []
    for item in frame.to_dict("records"):
        weights = {c: _match_weight(item, c) for c in COMPARED}
        pairs.append(
            ScoredPair(
                _key(item["unique_id_l"]),
                _key(item["unique_id_r"]),
                float(item["match_probability"]),
                weights,
            )
        )
    return pairs


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
