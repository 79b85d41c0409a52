"""Data Docs show the gateway's own batch gates (records counted, held share) beside the suite's
expectations: GX must be able to render every result it is given, or it logs a traceback and
leaves the page out."""

from __future__ import annotations

import pytest

from gateway.pipeline.staging import record_count_check
from gateway.reports.data_docs import GATEWAY_GATE, _result


@pytest.mark.parametrize(
    "entry",
    [
        record_count_check(30, 2),
        {
            "suite": "canonical_child",
            "rule": "held_share",
            "type": "held_share",
            "column": None,
            "severity": "critical",
            "checked": 10,
            "failed": 9,
        },
    ],
)
def test_a_gate_of_our_own_renders_as_a_known_expectation(entry: dict[str, object]) -> None:
    result = _result(entry)
    config = result["expectation_config"]
    assert config.type == GATEWAY_GATE and config.kwargs == {"gate": entry["type"]}
    config.to_domain_obj()  # what Data Docs' renderer does; raised ExpectationNotFoundError
    assert result["success"] is False


def test_a_suite_expectation_keeps_its_own_type() -> None:
    entry = {
        "suite": "canonical_child",
        "rule": "nhs_number_valid",
        "type": "expect_column_values_to_be_valid_nhs_number",
        "column": "nhs_number",
        "severity": "warning",
        "checked": 5,
        "failed": 0,
    }
    assert _result(entry)["expectation_config"].type == entry["type"]
