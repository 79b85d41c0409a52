"""Run a committed Great Expectations suite over a batch of canonical records.

The suite JSON is loaded into an ephemeral GX context; each record becomes one row of the
columns the suite checks. The outcome names, for each record, every expectation it failed with
the failing values (kept in the index for roles allowed to see them, never logged), and a
summary per expectation for the validation report.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from gateway import config
from gateway.errors import FatalConfigError
from gateway.model import CanonicalRecord

CRITICAL = "critical"
ROW_KEY = "row"


@dataclass(frozen=True)
class Failure:
    rule: str
    severity: str
    explain: str
    values: dict[str, Any]

    def as_reason(self) -> dict[str, Any]:
        return {
            "stage": "validation",
            "rule": self.rule,
            "severity": self.severity,
            "explain": self.explain,
            "values": self.values,
        }


@dataclass
class ValidationOutcome:
    suite: str
    checked: int
    failures: dict[int, list[Failure]] = field(default_factory=dict)
    summary: list[dict[str, Any]] = field(default_factory=list)

    def quarantined(self, row: int) -> list[Failure]:
        """The error-level failures of one row: non-empty means the record is quarantined."""
        return [f for f in self.failures.get(row, []) if f.severity == CRITICAL]

    def warnings(self, row: int) -> list[Failure]:
        return [f for f in self.failures.get(row, []) if f.severity != CRITICAL]


def frame_row(record: CanonicalRecord) -> dict[str, Any]:
    """The checked columns of one canonical record."""
    identity = record.identity
    postcodes = [a.postcode for a in identity.addresses if a.postcode]
    return {
        "record_id": record.provenance.record_id,
        "nhs_number": identity.nhs_number,
        "upn": identity.upn,
        "postcode": identity.current_postcode or (postcodes[-1] if postcodes else None),
        "birth_date": identity.birth_date.isoformat() if identity.birth_date else None,
        "sex": identity.sex,
        "given_name": identity.given_name,
        "family_name": identity.family_name,
    }


@cache
def _suite_document(name: str) -> dict[str, Any]:
    path = config.EXPECTATIONS_DIR / f"{name}.json"
    if not path.exists():
        raise FatalConfigError(f"no expectation suite {name!r} ({path.name})")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    import gateway.validation.custom_expectations  # noqa: F401  registers our expectations
    from gateway.logs import quiet_third_parties

    quiet_third_parties()  # GX sets its own log levels on import

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def _batch_definition() -> Any:
    source = _context().data_sources.add_pandas("canonical_records")
    return source.add_dataframe_asset("batch").add_batch_definition_whole_dataframe("whole")


@cache
def _suite(name: str) -> Any:
    import great_expectations as gx

    document = _suite_document(name)
    try:
        return _context().suites.add(gx.ExpectationSuite(**document))
    except Exception as exc:  # GX raises many kinds for a bad suite file
        raise FatalConfigError(
            f"expectation suite {name!r} cannot be loaded: {type(exc).__name__}"
        ) from exc


def validate_records(
    records: Sequence[CanonicalRecord], suite_name: str = "canonical_child"
) -> ValidationOutcome:
    """Validate the records; row ``i`` of the outcome is ``records[i]``."""
    outcome = ValidationOutcome(suite=suite_name, checked=len(records))
    if not records:
        return outcome
    import pandas as pd

    frame = pd.DataFrame([frame_row(r) for r in records])
    frame.insert(0, ROW_KEY, range(len(frame)))
    result = (
        _batch_definition()
        .get_batch(batch_parameters={"dataframe": frame})
        .validate(
            _suite(suite_name),
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_KEY]},
        )
    )
    for item in result.results:
        _collect(outcome, item)
    return outcome


def _collect(outcome: ValidationOutcome, item: Any) -> None:
    expectation = item.expectation_config
    meta = expectation.meta or {}
    severity = getattr(expectation.severity, "value", str(expectation.severity)).lower()
    column = expectation.kwargs.get("column")
    rule = meta.get("rule", expectation.type)
    if item.exception_info and item.exception_info.get("raised_exception"):
        raise FatalConfigError(f"expectation {rule!r} could not run; check the suite file")
    failed_rows = item.result.get("unexpected_index_list") or []
    for entry in failed_rows:
        row = int(entry[ROW_KEY])
        values = {k: _plain(v) for k, v in entry.items() if k != ROW_KEY}
        outcome.failures.setdefault(row, []).append(
            Failure(rule, severity, meta.get("explain", ""), values)
        )
    outcome.summary.append(
        {
            "rule": rule,
            "type": expectation.type,
            "column": column,
            "severity": severity,
            "checked": outcome.checked,
            "failed": len(failed_rows),
        }
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return None if isinstance(value, float) and math.isnan(value) else value
    return str(value)
