"""Custom Great Expectations for the identifiers and dates this domain depends on.

Importing this module registers the expectations with GX, so suites committed as JSON can name
them (``expect_column_values_to_be_valid_nhs_number`` and the rest). Nulls are not checked by
map expectations; pair them with ``expect_column_values_to_not_be_null`` where a value is required.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

from gateway.identifiers import is_valid_nhs_number, is_valid_upn, normalise_postcode


class ColumnValuesValidNhsNumber(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ehe_valid_nhs_number"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, **_: Any) -> Any:
        return column.map(is_valid_nhs_number)


class ExpectColumnValuesToBeValidNhsNumber(ColumnMapExpectation):
    """NHS numbers pass Modulus 11 and are not all one digit."""

    map_metric = "column_values.ehe_valid_nhs_number"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ColumnValuesValidUpn(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ehe_valid_upn"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, **_: Any) -> Any:
        return column.map(is_valid_upn)


class ExpectColumnValuesToBeValidUpn(ColumnMapExpectation):
    """UPNs have the right check letter and a real LA code."""

    map_metric = "column_values.ehe_valid_upn"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ColumnValuesUkPostcode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ehe_uk_postcode"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, **_: Any) -> Any:
        return column.map(lambda value: normalise_postcode(value) is not None)


class ExpectColumnValuesToBeUkPostcode(ColumnMapExpectation):
    """Postcodes have the shape of a UK postcode."""

    map_metric = "column_values.ehe_uk_postcode"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ColumnValuesChildBirthDate(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ehe_child_birth_date"
    condition_value_keys = ("max_age_years",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, max_age_years: int, **_: Any) -> Any:
        today = date.today()
        earliest = date(today.year - max_age_years, today.month, min(today.day, 28))
        return column.map(lambda value: _within(value, earliest, today))


def _within(value: Any, earliest: date, latest: date) -> bool:
    if not isinstance(value, str):
        return False
    try:
        born = date.fromisoformat(value)
    except ValueError:
        return False
    return earliest <= born <= latest


class ExpectColumnValuesToBeChildBirthDate(ColumnMapExpectation):
    """Birth dates are ISO dates, not in the future, within the ages the index serves."""

    map_metric = "column_values.ehe_child_birth_date"
    max_age_years: int = 25
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "max_age_years")
