"""Custom Great Expectations for the identifiers, dates and codes this domain depends on.

Importing this module registers the expectations with GX, so suites committed as JSON can name
them (``expect_column_values_to_be_valid_nhs_number`` and the rest). Nulls are not checked by
map expectations; pair them with ``expect_column_values_to_not_be_null`` where a value is
required. Every check is vectorised (``gateway.validation.checks``): no Python call per row.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    BatchExpectation,
    ColumnMapExpectation,
    ColumnPairMapExpectation,
)
from great_expectations.expectations.metrics import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnPairMapMetricProvider,
    column_pair_condition_partial,
)

from gateway.validation import checks


class ColumnValuesValidNhsNumber(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ehe_valid_nhs_number"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, **_: Any) -> Any:
        return checks.nhs_number_valid(column)


class ExpectColumnValuesToBeValidNhsNumber(ColumnMapExpectation):
    """NHS numbers pass Modulus 11 and are not all one digit."""

    map_metric = "column_values.ehe_valid_nhs_number"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ColumnValuesValidUpn(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ehe_valid_upn"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, **_: Any) -> Any:
        return checks.upn_valid(column)


class ExpectColumnValuesToBeValidUpn(ColumnMapExpectation):
    """UPNs have the right check letter and a real LA code."""

    map_metric = "column_values.ehe_valid_upn"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ColumnValuesUkPostcode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ehe_uk_postcode"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, **_: Any) -> Any:
        return checks.uk_postcode(column)


class ExpectColumnValuesToBeUkPostcode(ColumnMapExpectation):
    """Postcodes have the shape of a UK postcode."""

    map_metric = "column_values.ehe_uk_postcode"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


_PAIR_DOMAIN_KEYS = (
    "batch_id",
    "table",
    "column_A",
    "column_B",
    "row_condition",
    "condition_parser",
    "ignore_row_if",
)


class ColumnPairChildBirthDateOnReceipt(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.ehe_child_birth_date_on_receipt"
    condition_domain_keys = _PAIR_DOMAIN_KEYS
    condition_value_keys = ("max_age_years",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: Any, column_B: Any, max_age_years: int, **_: Any) -> Any:
        return checks.child_birth_date(column_A, column_B, max_age_years)


class ExpectColumnPairValuesToBeChildBirthDateOnReceipt(ColumnPairMapExpectation):
    """``column_A`` is a birth date that was neither in the future nor more than
    ``max_age_years`` ago on ``column_B``, the day the record was received.

    Judged against the day of receipt, never the wall clock, so a record's verdict does not
    change with the day the suite runs.
    """

    map_metric = "column_pair_values.ehe_child_birth_date_on_receipt"
    max_age_years: int = 25
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing"
    )
    success_keys: ClassVar[tuple[str, ...]] = (
        "column_A",
        "column_B",
        "ignore_row_if",
        "max_age_years",
        "mostly",
    )


class ColumnValuesRealDate(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ehe_real_date"
    condition_value_keys = ("date_format",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, date_format: str, **_: Any) -> Any:
        return checks.real_date(column, date_format)


class ExpectColumnValuesToBeRealDate(ColumnMapExpectation):
    """Dates exist in the calendar (no month 13). ``%Y%m%d`` reads HL7 timestamps' date part."""

    map_metric = "column_values.ehe_real_date"
    date_format: str = "%Y-%m-%d"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "date_format")


class ColumnValuesCodesInSet(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ehe_codes_in_set"
    condition_value_keys = ("value_set",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, value_set: list[str], **_: Any) -> Any:
        return checks.codes_in_set(column, value_set)


class ExpectColumnCodesToBeInSet(ColumnMapExpectation):
    """Every code in the value is in the code list (several codes in one value: ``A|B``)."""

    map_metric = "column_values.ehe_codes_in_set"
    value_set: list[str]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "value_set")


class ColumnPairDatesInOrder(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.ehe_dates_in_order"
    condition_domain_keys = _PAIR_DOMAIN_KEYS

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: Any, column_B: Any, **_: Any) -> Any:
        return checks.dates_in_order(column_A, column_B)


class ExpectColumnPairDatesToBeInOrder(ColumnPairMapExpectation):
    """``column_B`` is on or after ``column_A`` (left after joined; a plan ends after it began).

    A row missing either date is not checked: an open spell has no end yet.
    """

    map_metric = "column_pair_values.ehe_dates_in_order"
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing"
    )
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "mostly")


class ExpectBatchToPassGatewayGate(BatchExpectation):
    """A check the gateway makes of a whole batch outside a suite (the share held, the records
    counted in the file, the row count against the last run), named by ``gate``. Never run by
    GX: it lets Data Docs show those outcomes beside the suite's."""

    gate: str
    metric_dependencies: ClassVar[tuple[str, ...]] = ("table.row_count",)
    success_keys: ClassVar[tuple[str, ...]] = ("gate",)

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: Any = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        return {"success": True, "result": {"observed_value": metrics.get("table.row_count")}}
