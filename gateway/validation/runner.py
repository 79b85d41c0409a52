"""Run a committed Great Expectations suite over a batch of canonical records.

The suite JSON is loaded into an ephemeral GX context; each record becomes one row of the
columns the suite checks. The outcome names, for each record, every expectation it failed with
the failing values (kept in the index for roles allowed to see them, never logged), and a
summary per expectation for the validation report.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from gateway import config
from gateway.errors import FatalConfigError
from gateway.model import CanonicalRecord
from gateway.settings import set_library_environment
from gateway.validation.frames import frame_row, raw_row

CRITICAL = "critical"
ROW_KEY = "row"
CANONICAL_SUITE = "canonical_child"
__all__ = ["ValidationOutcome", "frame_row", "validate_frame", "validate_raw", "validate_records"]
# GX keeps one execution engine per data source, and the engine holds the batch it validates:
# two threads validating at once would each check the other's rows. One validation at a time.
_GX_LOCK = threading.RLock()


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


@cache
def _suite_document(name: str) -> dict[str, Any]:
    path = config.EXPECTATIONS_DIR / f"{name}.json"
    if not path.exists():
        raise FatalConfigError(f"no expectation suite {name!r} ({path.name})")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@cache
def _context() -> Any:
    set_library_environment()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    import gateway.validation.custom_expectations  # noqa: F401  registers our expectations
    from gateway.logs import quiet_third_parties

    quiet_third_parties()  # GX sets its own log levels on import

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def load_validator() -> None:
    """Load Great Expectations now, in the caller's frame, if not loaded yet.

    Its import leaves an exception in a reference cycle whose traceback holds every frame
    above it: loaded first deep inside staging, it kept a whole batch's records alive until
    the cycle collector ran (see ``pipeline.staging``).
    """
    _context()


@cache
def _batch_definition() -> Any:
    source = _context().data_sources.add_pandas("canonical_records")
    return source.add_dataframe_asset("batch").add_batch_definition_whole_dataframe("whole")


@cache
def _suite_parts(name: str) -> list[tuple[str, list[str], Any]]:
    """The suite split by the columns its expectations read, each part a GX suite.

    GX filters and copies the whole batch for every expectation; giving each part only its own
    columns keeps that cost to the columns checked (a measured 3-5x on the benchmark).
    """
    import great_expectations as gx

    context = _context()  # registers our expectations before a suite names them
    document = _suite_document(name)
    parts: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # (scope, *columns) -> expectations
    for expectation in document.get("expectations", []):
        scope = (expectation.get("meta") or {}).get("scope", "record")
        key = (scope, *_read_columns(expectation.get("kwargs", {})))
        parts.setdefault(key, []).append(expectation)
    suites = []
    try:
        for number, ((scope, *columns), expectations) in enumerate(parts.items()):
            part = gx.ExpectationSuite(name=f"{name}.{number}", expectations=expectations)
            suites.append((scope, list(columns), context.suites.add(part)))
    except Exception as exc:  # GX raises many kinds for a bad suite file
        raise FatalConfigError(
            f"expectation suite {name!r} cannot be loaded: {type(exc).__name__}"
        ) from exc
    loaded = sum(len(suite.expectations) for _scope, _columns, suite in suites)
    if loaded != len(document.get("expectations", [])):  # GX logs and skips an unknown type
        raise FatalConfigError(f"expectation suite {name!r} names an unknown expectation")
    return suites


def _read_columns(kwargs: dict[str, Any]) -> tuple[str, ...]:
    names = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    return tuple(str(n) for n in [*names, *(kwargs.get("column_list") or [])])


def suite_exists(name: str) -> bool:
    return (config.EXPECTATIONS_DIR / f"{name}.json").exists()


def suite_meta(name: str) -> dict[str, Any]:
    """The ``meta`` block of a committed suite (raw columns, batch gates)."""
    meta: dict[str, Any] = _suite_document(name).get("meta") or {}
    return meta


def validate_records(
    records: Sequence[CanonicalRecord], suite_name: str = CANONICAL_SUITE
) -> ValidationOutcome:
    """Validate the records; row ``i`` of the outcome is ``records[i]``."""
    import pandas as pd

    return validate_frame(pd.DataFrame([frame_row(r) for r in records]), suite_name)


def validate_raw(source: str, items: Sequence[dict[str, Any]]) -> ValidationOutcome | None:
    """Check a source's raw items against its own suite (its quirks), if it has one."""
    if not suite_exists(source):
        return None
    import pandas as pd

    columns: dict[str, str] = suite_meta(source).get("columns", {})
    return validate_frame(pd.DataFrame([raw_row(i, columns) for i in items]), source)


def validate_frame(frame: Any, suite_name: str = CANONICAL_SUITE) -> ValidationOutcome:
    """Validate a DataFrame of checked columns; the outcome's row ``i`` is the frame's row ``i``."""
    outcome = ValidationOutcome(suite=suite_name, checked=len(frame))
    if frame.empty:
        return outcome
    frame = frame.reset_index(drop=True)  # GX then names failing rows by position
    with _GX_LOCK:
        _validate_parts(outcome, frame, suite_name)
    return outcome


def _validate_parts(outcome: ValidationOutcome, frame: Any, suite_name: str) -> None:
    for scope, columns, suite in _suite_parts(suite_name):
        # A batch-scope expectation fails the batch, never a row: it needs no row list.
        result = (
            _batch_definition()
            .get_batch(batch_parameters={"dataframe": frame[columns]})
            .validate(suite, result_format="BOOLEAN_ONLY" if scope == "batch" else "COMPLETE")
        )
        for item in result.results:
            _collect(outcome, item, frame)


def _collect(outcome: ValidationOutcome, item: Any, frame: Any) -> None:
    expectation = item.expectation_config
    meta = expectation.meta or {}
    severity = getattr(expectation.severity, "value", str(expectation.severity)).lower()
    rule = meta.get("rule", expectation.type)
    if item.exception_info and item.exception_info.get("raised_exception"):
        raise FatalConfigError(f"expectation {rule!r} could not run; check the suite file")
    failed_rows = [int(i) for i in item.result.get("unexpected_index_list") or []]
    entry = {
        "suite": outcome.suite,
        "rule": rule,
        "type": expectation.type,
        "column": _columns(expectation.kwargs),
        "severity": severity,
        "checked": outcome.checked,
        "failed": len(failed_rows),
    }
    if meta.get("scope") == "batch":
        # Guards the whole batch: fails the batch, never one record.
        enough = outcome.checked >= int(meta.get("min_rows", 1))
        entry.update(gate=True, failed=0 if item.success or not enough else outcome.checked)
        outcome.summary.append(entry)
        return
    columns = list(_read_columns(expectation.kwargs))
    failing = frame.loc[failed_rows, columns].astype(object).to_dict("records")
    explain = meta.get("explain", "")
    for row, values in zip(failed_rows, failing, strict=True):
        plain = {k: _plain(v) for k, v in values.items()}
        outcome.failures.setdefault(row, []).append(Failure(rule, severity, explain, plain))
    outcome.summary.append(entry)


def _columns(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    names = [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]
    names += list(kwargs.get("column_list") or [])
    return ", ".join(str(n) for n in names) or None


def _plain(value: Any) -> Any:
    """A JSON-ready value: None for every kind of missing (None, NaN, pd.NA, NaT)."""
    import pandas as pd

    if value is None or (not isinstance(value, (list, dict)) and bool(pd.isna(value))):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
