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
TRAINING_RECORDS = 250_000  # training reads a random sample of this many records at most
# Which pairs scoring compares: a pair is compared when any rule holds. Each joins on two things
# that a child's records share however noisy they are, so the blocks stay a few records each
# at a million records: a birth date alone (or a forename with a birth year) puts hundreds of
# children in a block there. ``birth_date_unordered`` is the year, then day and month in
# either order, so a date and its day/month swap meet. ``gateway.linkage.blocking`` mirrors
# these rules as lookup keys for incremental runs; change both together.
BLOCKING_RULES = (
    "l.birth_date_unordered = r.birth_date_unordered and l.family_name = r.family_name",
    "l.birth_date_unordered = r.birth_date_unordered and l.given_canonical = r.given_canonical",
    "l.postcode = r.postcode and substr(l.given_name, 1, 1) = substr(r.given_name, 1, 1)",
    # a typo in each name (never in the first letter) on records of a child that moved
    "l.birth_date_unordered = r.birth_date_unordered"
    " and substr(l.given_canonical, 1, 1) = substr(r.given_canonical, 1, 1)"
    " and substr(l.family_name, 1, 1) = substr(r.family_name, 1, 1)",
)


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
    """Our comparisons: nicknames, typos, day/month swaps and a household's place."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=list(BLOCKING_RULES),
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
    """The records as Splink's input table: a column at a time, each name's forms worked out
    once (a population repeats its names many times over)."""
    import pandas as pd

    given = [row.given_name for row in rows]
    born = [row.birth_date for row in rows]
    columns: dict[str, list[Any]] = {"unique_id": [f"{r.key[0]}/{r.key[1]}" for r in rows]}
    columns.update((f, [getattr(row, f) for row in rows]) for f in FIELDS)
    columns["given_canonical"] = [_canonical(name) for name in given]
    columns["given_forms"] = [_forms(name) for name in given]
    columns["birth_date_swapped"] = [swapped_birth_date(date) for date in born]
    columns["birth_date_unordered"] = [unordered_birth_date(date) for date in born]
    return pd.DataFrame(columns)


@functools.lru_cache(maxsize=100_000)
def _canonical(name: str | None) -> str | None:
    return canonical_forename(name)


@functools.lru_cache(maxsize=100_000)
def _forms(name: str | None) -> list[str] | None:
    return forename_forms(name) or None


def swapped_birth_date(born: str | None) -> str | None:
    """The date with day and month swapped (``2019-03-07``: ``2019-07-03``)."""
    return f"{born[:4]}-{born[8:10]}-{born[5:7]}" if born and len(born) == 10 else None


def unordered_birth_date(born: str | None) -> str | None:
    """The year, then day and month in either order: a date and its swap give the same."""
    if not born or len(born) != 10:
        return None
    first, second = sorted((born[5:7], born[8:10]))
    return f"{born[:4]}-{first}-{second}"


def _linker(rows: Sequence[PersonRow], settings: Any) -> Any:
    from splink import DuckDBAPI, Linker

    db = DuckDBAPI()
    return Linker(db.register(_frame(rows)), settings, log_level=None)


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
    linker = _linker(rows, document)
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
    predicted = linker.inference.predict_between(left, right, threshold_match_probability=lower)
    return _pairs(predicted, document)


def _document(model: Path) -> dict[str, Any]:
    """The saved model, scored with today's blocking rules (``BLOCKING_RULES``): which pairs
    are compared is ours to choose and must match the incremental keys; the weights are the
    model's."""
    document: dict[str, Any] = json.loads(model.read_text(encoding="utf-8"))
    document.pop("ehe_gateway", None)
    document["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in BLOCKING_RULES
    ]
    return document


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
