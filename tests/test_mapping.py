"""Mapping files are checked on load with every problem reported at once; transforms are pure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway.errors import FatalConfigError
from gateway.mapping import apply_mapping, load_mapping_file, mapping_for
from gateway.mapping.transforms import hl7_nhs_number, register_entries
from gateway.sources import source_names


@pytest.mark.parametrize("source", source_names())
def test_every_source_has_a_valid_mapping(source: str) -> None:
    spec = mapping_for(source)
    assert spec.source == source


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "source: x\nagency: education\nrecord_id: {from: id}\n"
        "fields:\n"
        "  identity.shoe_size: {from: shoe}\n"
        "  identity.given_name: {from: a, transform: no_such_transform}\n"
        "lists:\n"
        "  identity.given_name: {from: b, fields: {}}\n"
    )
    with pytest.raises(FatalConfigError) as caught:
        load_mapping_file(path)
    message = str(caught.value)
    assert "3 problem(s)" in message
    assert "identity.shoe_size: no such canonical field" in message
    assert "unknown transform 'no_such_transform'" in message
    assert "lists.identity.given_name: not a canonical list of records" in message


def test_from_and_value_are_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("source: x\nagency: health\nrecord_id: {from: id, value: 3}\n")
    with pytest.raises(FatalConfigError, match="exactly one of 'from' or 'value'"):
        load_mapping_file(path)


def test_mapping_names_failing_fields_without_values() -> None:
    spec = mapping_for("education__ehe_register")
    row = {
        "ChildRef": "E1",
        "Forename": "Ann",
        "Surname": "Lee",
        "DOB": "31/02/2015",
        "Gender": "Q",
        "Register": "EHE",
        "StartDate": "01/09/2026",
    }
    mapped = apply_mapping(spec, row, batch_id="b", received_at=datetime.now(UTC))
    assert mapped.record is None and mapped.record_id == "E1"
    assert any(p.startswith("identity.birth_date:") for p in mapped.problems)
    assert any(p.startswith("identity.sex:") for p in mapped.problems)
    assert not any("31/02/2015" in p or "Ann" in p for p in mapped.problems)


def test_register_row_becomes_ehe_or_cme() -> None:
    row = {"Register": "EHE", "Start": "02/09/2026", "End": None, "Why": None}
    args = {
        "type_column": "Register",
        "start_column": "Start",
        "end_column": "End",
        "date_formats": ["%d/%m/%Y"],
    }
    assert register_entries(row, kind="EHE", reason_column="Why", **args) == [
        {"registered_on": date(2026, 9, 2), "deregistered_on": None, "deregistration_reason": None}
    ]
    assert register_entries(row, kind="CME", **args) == []


@pytest.mark.parametrize(
    ("pid3", "expected"),
    [
        ([["3333333333", "", "", "NHS"]], "3333333333"),  # ITK: no NH type code
        ([["RCB1", "", "", "RCB", "PI"], ["9434765919", "", "", "NHS", "NH"]], "9434765919"),
        ([["MRN1", "", "", "", "MR"]], None),
    ],
)
def test_hl7_nhs_number_forms(pid3: list[list[str]], expected: str | None) -> None:
    assert hl7_nhs_number(pid3) == expected


def test_python_error_messages_never_reach_the_reason() -> None:
    """int('...') would quote the value in its message: only the kind of failure is kept."""
    from gateway.mapping.spec import FieldRule, MappingSpec

    spec = MappingSpec(
        source="x",
        agency="education",
        record_id=FieldRule.model_validate({"from": "id"}),
        fields={"identity.local_ids.pas": FieldRule.model_validate({"from": "n", "cast": "int"})},
    )
    mapped = apply_mapping(
        spec, {"id": "1", "n": "9434765919x"}, batch_id="b", received_at=datetime.now(UTC)
    )
    assert mapped.problems == ["identity.local_ids.pas: not a whole number"]
