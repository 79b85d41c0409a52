"""The fast FHIR path gives what the slow one gave.

The connector validates each Patient with fhir.resources and then maps from the JSON as
received, not from ``model_dump`` of the model; and ``parse_date`` reads ISO dates with
``fromisoformat`` before strptime. These tests hold both shortcuts to the long way round, over
every published Patient sample and a synthetic population.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.patient import Patient
from hypothesis import given
from hypothesis import strategies as st

from connectors.health.fhir_patients import FhirPatientConnector, validate_patient
from gateway.mapping import apply_mapping, mapping_for
from gateway.mapping.transforms import (
    ISO_FORMATS,
    MappingValueError,
    fhir_nhs_verification,
    parse_date,
)
from gateway.synth import patient_resources

RECEIVED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _patients_in(samples: Path) -> list[dict[str, Any]]:
    """Every Patient resource in the published FHIR samples (files and Bundle entries)."""
    found = []
    for folder in sorted(p for p in (samples / "fhir").iterdir() if p.is_dir()):
        connector = FhirPatientConnector({"path": str(folder)})
        for path in connector.extract(Path("."), None).files:
            found += [item.record for item in connector.parse(path) if item.record is not None]
    return found


def _mapped(record: dict[str, Any]) -> tuple[Any, list[str]]:
    spec = mapping_for("health__fhir_patient")
    mapped = apply_mapping(spec, record, batch_id="b", received_at=RECEIVED)
    dumped = mapped.record.model_dump(mode="json") if mapped.record else None
    return dumped, mapped.problems


def test_mapping_from_received_json_equals_mapping_from_model_dump(samples: Path) -> None:
    patients = _patients_in(samples) + patient_resources(300, seed=5)
    assert len(patients) > 320
    for raw in patients:
        dumped = Patient.model_validate(raw).model_dump(mode="json", exclude_none=True)
        assert _mapped(raw) == _mapped(dumped), raw.get("id")


def test_connector_still_validates_every_resource() -> None:
    """Skipping model_dump must not skip validation: an invalid Patient is still refused."""
    bad = json.dumps({"resourceType": "Patient", "id": "p1", "birthDate": "2015-02-30"})
    item = validate_patient(bad, "f line 1")
    assert item.record is None
    assert item.error is not None and item.error.startswith("invalid FHIR Patient (birthDate")


def test_verification_status_is_carried_from_uk_core_extension() -> None:
    (patient,) = patient_resources(1, seed=3)
    record, problems = _mapped(patient)
    assert problems == []
    assert record["identity"]["nhs_number_verification"] == "01"
    assert fhir_nhs_verification([{"system": "https://fhir.nhs.uk/Id/nhs-number"}]) is None


def _strptime_only(text: str) -> date | None:
    for fmt in ISO_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    if "T" in text or len(text) > 10:
        try:
            return datetime.fromisoformat(text).date()
        except ValueError:
            return None
    return None


_moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))
_zones = st.sampled_from(["", "Z", "+00:00", "+0100", "-05:30", ".123", ".5+01:00"])
_texts = st.one_of(
    st.dates().map(date.isoformat),
    st.builds(lambda m, z: m.strftime("%Y-%m-%dT%H:%M:%S") + z, _moments, _zones),
    st.builds(lambda m: m.strftime("%Y-%m-%d %H:%M:%S"), _moments),
    st.text(alphabet="0123456789-T:+Z ", min_size=8, max_size=26),
)


@given(_texts)
def test_fast_date_reading_agrees_with_strptime(text: str) -> None:
    expected = _strptime_only(text.strip())
    if expected is None:
        with pytest.raises(MappingValueError):
            parse_date(text)
    else:
        assert parse_date(text) == expected


def test_fast_date_reading_keeps_strptime_leniency() -> None:
    assert parse_date("2026-1-05") == date(2026, 1, 5)
    assert parse_date("2026-11-01T08:00:00+00:00") == date(2026, 11, 1)
    assert parse_date(datetime(2026, 1, 1) + timedelta(hours=30)) == date(2026, 1, 2)
    for bad in ("2026-13-01", "20260101", "2026-02-30", "2026-01-01T25:00:00"):
        with pytest.raises(MappingValueError):
            parse_date(bad)


def test_blocks_keep_every_line_in_order_with_its_position(tmp_path: Path) -> None:
    """Lines are validated a block at a time: across block edges nothing is lost or moved."""
    lines = [json.dumps(p) for p in patient_resources(140, seed=8)]
    lines[2] = '{"resourceType": "Patient", "id": "cut'
    lines[65] = json.dumps({"resourceType": "Patient", "id": "p66", "birthDate": "2015-13-01"})
    path = tmp_path / "Patient.ndjson"
    path.write_text("\n".join(lines[:100]) + "\n\n" + "\n".join(lines[100:]) + "\n")
    items = list(FhirPatientConnector({"path": str(path)}).parse(path))
    assert len(items) == 140
    assert [i.position for i in items][:3] == [f"Patient.ndjson line {n}" for n in (1, 2, 3)]
    assert items[-1].position == "Patient.ndjson line 141", "the blank line keeps its number"
    refused = {i.position: i.error for i in items if i.record is None}
    assert list(refused) == ["Patient.ndjson line 3", "Patient.ndjson line 66"]
    assert refused["Patient.ndjson line 66"].startswith("invalid FHIR Patient (birthDate")
    assert [i.record["id"] for i in items if i.record][:2] == [
        json.loads(lines[0])["id"],
        json.loads(lines[1])["id"],
    ]
