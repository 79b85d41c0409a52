"""Golden tests: real published sample files in, the expected canonical records out.

The expected output lives in tests/golden/ as reviewable JSON; regenerate it with
``UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and read the diff before committing.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.pipeline.staging import stage_items

GOLDEN = Path(__file__).parent / "golden"
RECEIVED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
CASES = [
    ("health__fhir_patient", "fhir/nhs-pds/Patient.json"),
    ("health__fhir_patient", "fhir/nhs-pds/Sensitive_Patient.json"),
    ("health__fhir_patient", "fhir/nhs-pds/PatientCompoundName.json"),
    ("health__fhir_patient", "fhir/hl7-r4-examples/Patient-infant-twin-1.json"),
    ("health__fhir_patient", "fhir/nhs-pds/fuzzy_multimatch_searchset.json"),
    ("health__hl7v2_adt", "hl7v2/nhs-itk-v2.4/ITK_ADT_A01_example.hl7"),
    ("health__hl7v2_adt", "hl7v2/nhs-itk-v2.4/ITK_ADT_A28_Example.hl7"),
    ("health__hl7v2_adt", "hl7v2/ms-fhir-converter/ADT04-251.hl7"),
    ("social_care__cin_census", "social-care/cin/liiatools_cin-2022.xml"),
    ("social_care__cin_census", "social-care/cin/d2i_CIN_Census_2024.xml"),
    ("social_care__ssda903", "social-care/ssda903/liiatools_SSDA903_2020_header.csv"),
]


def _stage(samples: Path, source: str, relative: str) -> list[dict[str, Any]]:
    return list(stage_items(source, samples / relative, "golden", RECEIVED))


def _stable(lines: list[dict[str, Any]]) -> str:
    return json.dumps(lines, indent=2, sort_keys=True, default=str) + "\n"


@pytest.mark.parametrize(("source", "relative"), CASES, ids=[c[1] for c in CASES])
def test_sample_maps_to_expected_records(samples: Path, source: str, relative: str) -> None:
    lines = _stage(samples, source, relative)
    actual = _stable(lines)
    expected_file = GOLDEN / (Path(relative).stem + ".json")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_file.write_text(actual, encoding="utf-8")
    assert expected_file.exists(), f"no golden file {expected_file.name}: run with UPDATE_GOLDEN=1"
    assert actual == expected_file.read_text(encoding="utf-8")


def test_restricted_record_stays_restricted(samples: Path) -> None:
    """Sensitive_Patient.json carries the PDS S-flag: the canonical record must say so."""
    lines = _stage(samples, "health__fhir_patient", "fhir/nhs-pds/Sensitive_Patient.json")
    records = [line["record"] for line in lines if line["kind"] == "record"]
    assert len(records) == 1
    assert records[0]["identity"]["restricted"] is True


def test_itk_month_thirteen_birth_date_is_quarantined_with_reason(samples: Path) -> None:
    """The NHS ITK A28 example has a birth date in month 13: held by the HL7 suite's named
    expectation, with the mapping's account of the field it could not read."""
    lines = _stage(samples, "health__hl7v2_adt", "hl7v2/nhs-itk-v2.4/ITK_ADT_A28_Example.hl7")
    held = [line for line in lines if line["kind"] == "held"]
    assert len(held) == 1
    assert held[0]["status"] == "quarantined"
    assert held[0]["stage"] == "validation"
    first, then = held[0]["reasons"]
    assert first["rule"] == "hl7_birth_date_is_a_real_date"
    assert first["values"] == {"pid7_birth_date": "196513121515"}
    assert "identity.birth_date" in then["explain"]


def test_itk_nhs_number_without_type_code_is_read(samples: Path) -> None:
    """ITK puts the NHS number in PID-3 as n^^^NHS with no NH type code. The patient is an adult,
    so the record is held by the age check; the mapped record it holds carries the number."""
    lines = _stage(samples, "health__hl7v2_adt", "hl7v2/nhs-itk-v2.4/ITK_ADT_A01_example.hl7")
    (held,) = [line for line in lines if line["kind"] == "held"]
    assert held["reasons"][0]["rule"] == "birth_date_plausible"
    assert json.loads(str(held["payload"]))["identity"]["nhs_number"] == "3333333333"


def test_multimatch_searchset_yields_twenty_records(samples: Path) -> None:
    lines = _stage(samples, "health__fhir_patient", "fhir/nhs-pds/fuzzy_multimatch_searchset.json")
    items = [line for line in lines if line["kind"] in ("record", "held")]
    assert len(items) == 20
