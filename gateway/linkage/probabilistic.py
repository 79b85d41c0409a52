"""Probabilistic scoring with Splink (Fellegi-Sunter) for records no identifier joins.

Settings are data (``linkage_settings``); a model is trained by an explicit step
(``train_model``: u by random sampling with a fixed seed, m by expectation maximisation),
saved as versioned JSON under the data folder, and only then used by linkage. Thresholds are
match probabilities. Scoring returns pairs with their per-field match weights as evidence.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway import config
from gateway.linkage.names import forename_forms
from gateway.linkage.spec import (
    BLOCKING,
    BLOCKING_COLUMNS,
    COMPARISONS,
    DERIVED,
    Exact,
    Level,
    Null,
    swapped_birth_date,
)

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
TRAINING_RECORDS = 250_000  # training reads a random sample of this many records at most
# Which pairs scoring compares: a pair is compared when any rule of ``spec.BLOCKING`` holds
# (the incremental blocking keys are made from the same rules).
BLOCKING_RULES = tuple(rule.sql for rule in BLOCKING)


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


def person_from_identity(
    key: tuple[str, str], identity: dict[str, Any], nhs: str | None, upn: str | None
) -> PersonRow:
    """What scoring compares of a record's canonical identity: names lower-cased, the latest
    postcode and address line."""
    addresses = identity.get("addresses") or []
    postcodes = [a.get("postcode") for a in addresses if a.get("postcode")]
    lines = [" ".join(a.get("lines") or []) for a in addresses if a.get("lines")]
    return PersonRow(
        key=key,
        given_name=_lower(identity.get("given_name")),
        family_name=_lower(identity.get("family_name")),
        birth_date=identity.get("birth_date"),
        sex=identity.get("sex"),
        postcode=postcodes[-1] if postcodes else None,
        nhs_number=nhs,
        upn=upn,
        address=_lower(lines[-1]) if lines else None,
    )


def _lower(value: str | None) -> str | None:
    return value.strip().lower() or None if value else None


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
    """Our comparisons (``spec.COMPARISONS``): nicknames, typos, day/month swaps, a household's
    place, identifiers as evidence; term-frequency adjusted names and postcode."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=list(BLOCKING_RULES),
        retain_intermediate_calculation_columns=True,
    )


def comparisons() -> list[dict[str, Any]]:
    """The comparisons as Splink's settings dictionaries, generated from the specification."""
    return [
        {
            "output_column_name": comparison.name,
            "comparison_levels": [_level(level) for level in comparison.levels],
        }
        for comparison in COMPARISONS
    ]


def _level(level: Level) -> dict[str, Any]:
    settings: dict[str, Any] = {"sql_condition": level.sql}
    if isinstance(level, Null):
        settings["is_null_level"] = True
    else:
        settings["label_for_charts"] = level.says
    if isinstance(level, Exact) and level.term_frequencies:
        settings["tf_adjustment_column"] = level.column
        settings["tf_adjustment_weight"] = 1.0
    return settings


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
    """The records as Splink's input table: a column at a time, each name's forms worked out
    once (a population repeats its names many times over), and every column a blocking rule
    joins on (``spec.DERIVED``)."""
    import pandas as pd

    given = [row.given_name for row in rows]
    born = [row.birth_date for row in rows]
    columns: dict[str, list[Any]] = {"unique_id": [f"{r.key[0]}/{r.key[1]}" for r in rows]}
    columns.update((f, [getattr(row, f) for row in rows]) for f in FIELDS)
    columns["given_forms"] = [_forms(name) for name in given]
    columns["birth_date_swapped"] = [swapped_birth_date(date) for date in born]
    for column in BLOCKING_COLUMNS:
        if column not in columns:
            derive = DERIVED[column]
            columns[column] = [derive(row) for row in rows]
    return pd.DataFrame(columns)


@functools.lru_cache(maxsize=100_000)
def _forms(name: str | None) -> list[str] | None:
    return forename_forms(name) or None


def _linker(
    rows: Sequence[PersonRow], settings: Any, frequencies: TermFrequencies | None = None
) -> Any:
    from splink import DuckDBAPI, Linker

    db = DuckDBAPI()
    linker = Linker(db.register(_frame(rows)), settings, log_level=None)
    if frequencies is not None:
        _register_term_frequencies(db, linker, frequencies)
    return linker


# A trained model's term frequencies: column -> value -> share of the records holding it.
TermFrequencies = dict[str, dict[str, float]]
# Values held by fewer training records than this are not written into the model (a rare
# name or postcode is left out, and takes no term-frequency adjustment, as in Splink for a
# value missing from a registered table).
MIN_TERM_COUNT = 5


def term_frequency_columns() -> tuple[str, ...]:
    """The columns whose exact agreement the specification adjusts by term frequency."""
    return tuple(
        level.column
        for comparison in COMPARISONS
        for level in comparison.levels
        if isinstance(level, Exact) and level.term_frequencies
    )


def term_frequencies(rows: Sequence[PersonRow]) -> TermFrequencies:
    """Each term-frequency column's values held by at least ``MIN_TERM_COUNT`` records, with
    their share of the records that hold a value (Splink's ``tf_<column>``)."""
    frequencies: TermFrequencies = {}
    for column in term_frequency_columns():
        counts = Counter(v for row in rows if (v := getattr(row, column)) is not None)
        total = sum(counts.values())
        frequencies[column] = {
            value: count / total
            for value, count in sorted(counts.items())
            if count >= MIN_TERM_COUNT
        }
    return frequencies


def _register_term_frequencies(db: Any, linker: Any, frequencies: TermFrequencies) -> None:
    """Score with the model's term frequencies, not ones worked out from the records scored:
    a batch's frequencies are not the population's, and search applies the model's too."""
    import pandas as pd

    for column in frequencies:
        table = frequencies[column]
        frame = pd.DataFrame(
            {column: pd.Series(list(table), dtype="object"), f"tf_{column}": list(table.values())}
        )
        linker.table_management.register_term_frequency_lookup(db.register(frame), column)


def model_term_frequencies(document: dict[str, Any]) -> TermFrequencies:
    """The term frequencies a saved model carries for each column it adjusts (empty for a
    model saved without them: no adjustment)."""
    held = document.get("ehe_gateway", {}).get("term_frequencies", {})
    adjusted = {
        level["tf_adjustment_column"]
        for comparison in document.get("comparisons", [])
        for level in comparison.get("comparison_levels", [])
        if level.get("tf_adjustment_column")
    }
    return {column: dict(held.get(column, {})) for column in sorted(adjusted)}


def train_model(
    rows: Sequence[PersonRow], folder: Path | None = None, settings: Any = None
) -> Path:
    """Train on the records (u by random sampling, m by EM) and save a new model version.

    Above ``TRAINING_RECORDS`` records, on a random sample of that many (fixed seed): EM
    compares every pair sharing a birth date, which grows with the square of the records
    (over a hundred million pairs at a million records), while a sample already holds tens of
    thousands of matching pairs. Sampling records keeps the share of pairs that match, so the
    prior it estimates is the population's.
    """
    sample = _training_sample(rows)
    linker = _linker(sample, settings if settings is not None else linkage_settings())
    _train(linker)
    folder = folder or models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    version = len(list(folder.glob("model-v*.json"))) + 1
    path = folder / f"model-v{version:04d}.json"
    model = without_matches_in_u(linker.misc.save_model_to_json())
    model["ehe_gateway"] = {
        "term_frequencies": term_frequencies(sample),
        "version": version,
        "trained_on_records": len(sample),
        "records": len(rows),
        "trained_at": datetime.now(UTC).isoformat(),
    }
    path.write_text(json.dumps(model, indent=2, sort_keys=True), encoding="utf-8")
    log.info("linkage model v%d trained on %d of %d records", version, len(sample), len(rows))
    return path


def _training_sample(rows: Sequence[PersonRow]) -> Sequence[PersonRow]:
    if len(rows) <= TRAINING_RECORDS:
        return rows
    return random.Random(SEED).sample(list(rows), TRAINING_RECORDS)


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
    linker = _linker(rows, document, _frequencies(model))
    return _pairs(linker.inference.predict(threshold_match_probability=lower), document)


def score_between(
    new: Sequence[PersonRow], others: Sequence[PersonRow], model: Path, lower: float = LOWER
) -> list[ScoredPair]:
    """Pairs of a new record and an indexed one scoring at or above ``lower`` (Splink's
    ``predict_between`` with our blocking rules; each is symmetric, so one way round compares
    every pair a dedupe run of both would)."""
    if not new or not others:
        return []
    from splink import DuckDBAPI, Linker

    document = _document(model)
    db = DuckDBAPI()
    left = db.register(_frame(new))
    right = db.register(_frame(others))
    linker = Linker(left, document, log_level=None)
    _register_term_frequencies(db, linker, _frequencies(model))
    predicted = linker.inference.predict_between(left, right, threshold_match_probability=lower)
    return _pairs(predicted, document)


def _frequencies(model: Path) -> TermFrequencies:
    return model_term_frequencies(json.loads(model.read_text(encoding="utf-8")))


def _document(model: Path) -> dict[str, Any]:
    """The saved model, scored with today's blocking rules (``BLOCKING_RULES``): which pairs
    are compared is ours to choose and must match the incremental keys; the weights are the
    model's."""
    document: dict[str, Any] = json.loads(model.read_text(encoding="utf-8"))
    document.pop("ehe_gateway", None)
    if _is_ours(document):  # another model (Splink's generic, measured beside) keeps its own
        document["blocking_rules_to_generate_predictions"] = [
            {"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in BLOCKING_RULES
        ]
    return document


def _is_ours(document: dict[str, Any]) -> bool:
    names = [c.get("output_column_name") for c in document.get("comparisons", [])]
    return names == [c.name for c in COMPARISONS]


def _pairs(predicted: Any, document: dict[str, Any]) -> list[ScoredPair]:
    """The scored pairs with each comparison's match weight (term-frequency adjustment
    included, a missing one counted as 0), fetched a column at a time."""
    names = [column.unquote().name for column in predicted.columns]
    compared = [n[3:] for n in names if n.startswith("mw_") and not n.startswith("mw_tf_adj_")]
    weights = []
    for comparison in compared:
        parts = [f"mw_{comparison}", f"mw_tf_adj_{comparison}"]
        terms = [f'coalesce(if(isnan("{c}"), 0, "{c}"), 0)' for c in parts if c in names]
        weights.append(f'round({" + ".join(terms)}, 3) as "{comparison}"')
    columns_sql = ", ".join(weights)  # names of the model's own comparisons, not input
    sql = f"select unique_id_l, unique_id_r, match_probability, {columns_sql} from {{this}}"  # noqa: S608
    table = predicted.query_sql(sql).as_pyarrow_table().to_pydict()
    prior = round(_prior_weight(document), 3)
    columns = [table[c] for c in compared]
    pairs = []
    for row, (left, right, probability) in enumerate(
        zip(table["unique_id_l"], table["unique_id_r"], table["match_probability"], strict=True)
    ):
        weights_of_pair = {"prior": prior}
        weights_of_pair.update(zip(compared, (column[row] for column in columns), strict=True))
        pairs.append(ScoredPair(_key(left), _key(right), float(probability), weights_of_pair))
    return pairs


def _prior_weight(document: dict[str, Any]) -> float:
    """The model's starting weight: log2 of the prior odds that two records match."""
    p = float(document["probability_two_random_records_match"])
    return math.log2(p / (1 - p))


def _key(unique_id: str) -> tuple[str, str]:
    source, record_id = unique_id.split("/", 1)
    return source, record_id
