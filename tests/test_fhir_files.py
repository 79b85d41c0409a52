"""FHIR files as published: NDJSON, single resources and Bundles, UK Core and PDS Patient shapes.

Published files come from ../shared/samples (PDS sandbox, HL7 R4 examples) and
tests/samples_extra; small variants are written here with the published file they vary named.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.health.fhir_patients import (
    MAX_FIELD,
    FhirPatientConnector,
    overlong_path,
    with_id_from_full_url,
)
from connectors.health.fhir_rest import FhirRestConnector
from gateway.mapping.transforms import (
    fhir_deceased,
    fhir_gp_ods,
    fhir_name,
    fhir_nhs_verification,
    fhir_previous_names,
)
from gateway.pipeline.staging import RECORD_COUNT_RULE, stage_items

RECEIVED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
EXTRA = Path(__file__).parent / "samples_extra"
PDS = "fhir/nhs-pds"


def _read(path: Path) -> tuple[list[Any], FhirPatientConnector]:
    connector = FhirPatientConnector({"path": str(path)})
    return list(connector.read(path)), connector


def _records(path: Path) -> list[dict[str, Any]]:
    lines = stage_items("health__fhir_patient", path, "t", RECEIVED)
    return [line["record"] for line in lines if line["kind"] == "record"]


def _write(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "birthDate": "2015-06-01", "gender": "female", **fields}


# --- the shapes of file ---------------------------------------------------------------------


def test_transaction_bundle_patients_without_id_take_it_from_full_url(samples: Path) -> None:
    """The HL7 R4 transaction example: three of its five Patients have no id, only a
    ``urn:uuid:`` fullUrl; the other five entries are not Patients and are counted."""
    items, connector = _read(samples / "fhir/hl7-r4-examples/Bundle-bundle-transaction.json")
    ids = [item.record["id"] for item in items if item.record is not None]
    assert ids == [
        "61ebe359-bfdc-4613-8bf2-c5e300945f0a",
        "88f151c0-a954-468a-88bd-5ae15c08e059",
        "123",
        "74891afc-ed52-42a2-bcd7-f13d9b60f096",
        "123a",
    ]
    assert connector.not_read.total() == 5


def test_full_url_forms() -> None:
    patient = {"resourceType": "Patient"}
    assert with_id_from_full_url(patient, "urn:uuid:abc-1")["id"] == "abc-1"
    assert with_id_from_full_url(patient, "https://x.nhs.uk/fhir/Patient/9/_history/2")["id"] == "9"
    assert with_id_from_full_url({**patient, "id": "own"}, "urn:uuid:other")["id"] == "own"
    assert "id" not in with_id_from_full_url(patient, None)


def test_single_resource_bundles_and_ndjson_give_the_same_patient(tmp_path: Path) -> None:
    patient = _patient(id="p1", name=[{"family": "Okafor", "given": ["Ada"]}])
    single = _write(tmp_path, "one.json", patient)
    for kind in ("collection", "searchset", "transaction", "batch"):
        bundle = {"resourceType": "Bundle", "type": kind, "entry": [{"resource": patient}]}
        assert _records(_write(tmp_path, f"{kind}.json", bundle)) == _records(single), kind
    ndjson = tmp_path / "patients.ndjson"
    ndjson.write_text(json.dumps(patient) + "\n", encoding="utf-8")
    assert [r["identity"] for r in _records(ndjson)] == [r["identity"] for r in _records(single)]


def test_ndjson_content_under_a_json_name_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(
        json.dumps(_patient(id="a")) + "\n" + json.dumps(_patient(id="b")) + "\n",
        encoding="utf-8",
    )
    items, _ = _read(path)
    assert [item.position for item in items] == ["export.json line 1", "export.json line 2"]
    assert all(item.ok for item in items)


def test_other_resources_are_counted_never_silently_skipped(samples: Path) -> None:
    """PDS's RelatedPerson bundle holds no Patient: nothing is read and the RelatedPersons are
    counted; a SMART bulk AllergyIntolerance file likewise, line by line."""
    items, connector = _read(samples / PDS / "RelatedPersonBundle.json")
    assert items == []
    assert dict(connector.not_read) == {"RelatedPerson": 1}
    items, connector = _read(EXTRA / "fhir/smart-bulk-10/AllergyIntolerance.000.ndjson")
    assert items == []
    assert dict(connector.not_read) == {"AllergyIntolerance": 11}


def test_not_read_is_logged_with_counts_only(
    samples: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="connectors.health.fhir_patients")
    _read(
        samples / "fhir/synthea-juvenile/Cris921_Rath779_d4519c92-d241-b2b2-7360-291d60be699e.json"
    )
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("Cris921_Rath779_d4519c92-d241-b2b2-7360-291d60be699e.json: ")
    assert "not read (not a Patient): " in message and "Encounter " in message


def test_a_json_document_that_is_no_fhir_resource_is_refused(tmp_path: Path) -> None:
    (item,) = _read(_write(tmp_path, "patch.json", [{"op": "add", "path": "/name/-"}]))[0]
    assert item.error == "not a FHIR resource (no resourceType)"
    (item,) = _read(_write(tmp_path, "entry.json", {"resourceType": "Bundle", "entry": [7]}))[0]
    assert item.error == "Bundle entry is not a FHIR resource"
    assert item.position == "entry.json entry 1"
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Patient", ', encoding="utf-8")
    (item,) = _read(broken)[0]
    assert item.error is not None and item.error.startswith("not JSON: ")


def test_a_bundle_inside_a_bundle_is_read(tmp_path: Path) -> None:
    inner = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": _patient()}]}
    inner["entry"][0]["fullUrl"] = "urn:uuid:inner-1"
    outer = {"resourceType": "Bundle", "type": "message", "entry": [{"resource": inner}]}
    (item,), _ = _read(_write(tmp_path, "message.json", outer))
    assert item.position == "message.json entry 1 entry 1"
    assert item.record is not None and item.record["id"] == "inner-1"


# --- field length limits ------------------------------------------------------------------


def test_a_100000_character_family_name_is_held_with_its_path(tmp_path: Path) -> None:
    family = "A" * 100_000
    patient = _patient(id="long", name=[{"family": family, "given": ["Ada"]}])
    lines = list(
        stage_items("health__fhir_patient", _write(tmp_path, "p.json", patient), "t", RECEIVED)
    )
    (held,) = [line for line in lines if line["kind"] == "held"]
    assert held["status"] == "rejected"
    explain = held["reasons"][0]["explain"]
    assert explain == f"field name[0].family longer than {MAX_FIELD} characters"
    assert len(held["payload"]) < 5000  # the first characters are kept, not the whole text
    assert not [line for line in lines if line["kind"] == "record"]


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        ({"identifier": [{"value": "9" * 10_001}]}, "identifier[0].value"),
        ({"address": [{"line": ["x", "y" * 10_001]}]}, "address[0].line[1]"),
        ({"extension": [{"valueString": "z" * 10_001}]}, "extension[0].valueString"),
        ({"text": {"div": "<div>" + "n" * 20_000 + "</div>"}}, None),  # narrative: allowed
        ({"photo": [{"data": "QUJD" * 10_000}]}, None),  # attachment data: allowed
        ({"name": [{"family": "x" * 10_000}]}, None),  # at the limit: allowed
    ],
)
def test_length_limit_on_every_path(resource: dict[str, Any], path: str | None) -> None:
    assert overlong_path(resource) == path


def test_ndjson_line_with_overlong_field_is_held_and_the_next_line_read(tmp_path: Path) -> None:
    path = tmp_path / "bulk.ndjson"
    long_one = _patient(id="a", name=[{"family": "B" * 20_000}])
    path.write_text(json.dumps(long_one) + "\n" + json.dumps(_patient(id="b")) + "\n")
    first, second = _read(path)[0]
    assert first.error == f"field name[0].family longer than {MAX_FIELD} characters"
    assert second.record is not None and second.record["id"] == "b"


# --- UK Core and PDS Patient shapes -------------------------------------------------------


def test_pds_patient_shapes(samples: Path) -> None:
    """PDS's full Patient: verified NHS number, GP practice, deceased, several names."""
    (record,) = _records(samples / PDS / "Patient.json")
    identity = record["identity"]
    assert identity["nhs_number"] == "9000000009"
    assert identity["nhs_number_verification"] == "01"
    assert identity["deceased"] is True
    assert identity["restricted"] is False
    assert record["health"]["gp_practice_ods"] == "Y12345"


def test_restricted_security_label_makes_the_record_restricted(samples: Path) -> None:
    (record,) = _records(EXTRA / PDS / "Sensitive_PatientSearch.json")
    assert record["identity"]["restricted"] is True
    (record,) = _records(EXTRA / PDS / "patient_9000000009.json")
    assert record["identity"]["restricted"] is False


def test_verification_status_read_from_uk_core_and_care_connect_extensions() -> None:
    def identifier(url: str) -> list[dict[str, Any]]:
        coding = {"coding": [{"code": "02"}]}
        return [
            {
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "9434765919",
                "extension": [{"url": url, "valueCodeableConcept": coding}],
            }
        ]

    uk_core = (
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
    )
    care_connect = (
        "https://fhir.hl7.org.uk/STU3/StructureDefinition/"
        "Extension-CareConnect-NHSNumberVerificationStatus-1"
    )
    assert fhir_nhs_verification(identifier(uk_core)) == "02"
    assert fhir_nhs_verification(identifier(care_connect)) == "02"
    assert fhir_nhs_verification(identifier("https://example.org/other")) is None


NAMES = [
    {"use": "usual", "family": "Old", "given": ["Ada"], "period": {"end": "2021-12-31"}},
    {
        "use": "official",
        "family": "Current",
        "given": ["Ada", "May"],
        "period": {"start": "2022-01-01"},
    },
    {"use": "maiden", "family": "Maiden"},
    {"use": "nickname", "family": "Nick", "period": {"start": "2020-01-01", "end": "2030-01-01"}},
]


def test_names_with_use_and_period_judged_on_the_day_received() -> None:
    as_of = date(2026, 11, 1)
    assert fhir_name(NAMES, part="family", as_of=as_of) == "Current"
    assert fhir_name(NAMES, part="given", as_of=as_of) == "Ada May"
    previous = fhir_previous_names(NAMES, as_of=as_of)
    assert previous == [
        {"given_name": "Ada", "family_name": "Old"},
        {"given_name": None, "family_name": "Maiden"},
    ]
    # Received in 2021, the usual name had not yet ended: it was current then.
    assert fhir_name(NAMES[:1], part="family", as_of=date(2021, 6, 1)) == "Old"
    assert fhir_previous_names(NAMES[:1], as_of=date(2021, 6, 1)) == []


def test_mapping_a_batch_does_not_depend_on_the_day_it_is_mapped(tmp_path: Path) -> None:
    """The same file received on two days: a name that ended between them moves to previous."""
    patient = _patient(id="n", name=NAMES[:2])
    path = _write(tmp_path, "names.json", patient)
    for received, family in ((datetime(2021, 6, 1, tzinfo=UTC), "Old"), (RECEIVED, "Current")):
        lines = stage_items("health__fhir_patient", path, "t", received)
        (line,) = [line for line in lines if line["kind"] == "record"]
        assert line["record"]["identity"]["family_name"] == family


def test_gp_registration_current_on_the_day_received() -> None:
    def gp(code: str, end: str | None) -> dict[str, Any]:
        identifier: dict[str, Any] = {
            "system": "https://fhir.nhs.uk/Id/ods-organization-code",
            "value": code,
        }
        if end:
            identifier["period"] = {"start": "2015-01-01", "end": end}
        return {"type": "Organization", "identifier": identifier}

    as_of = date(2026, 11, 1)
    assert fhir_gp_ods([gp("A11111", "2021-12-31"), gp("B22222", None)], as_of=as_of) == "B22222"
    # Every registration ended (as in the PDS sandbox): the latest to end.
    ended = [gp("A11111", "2019-12-31"), gp("C33333", "2021-12-31")]
    assert fhir_gp_ods(ended, as_of=as_of) == "C33333"
    other_system = [{"identifier": {"system": "https://example.org/gp", "value": "X"}}]
    assert fhir_gp_ods(other_system, as_of=as_of) is None


def test_deceased_boolean_or_date() -> None:
    assert fhir_deceased({"deceasedDateTime": "2010-10-22T00:00:00+00:00"}) is True
    assert fhir_deceased({"deceasedBoolean": True}) is True
    assert fhir_deceased({"deceasedBoolean": False}) is False
    assert fhir_deceased({}) is None


def test_a_record_that_does_not_say_has_no_deceased_key(tmp_path: Path) -> None:
    (record,) = _records(_write(tmp_path, "p.json", _patient(id="q")))
    assert "deceased" not in record["identity"]


# --- published files with defects: held with a reason, never a crash ----------------------


def _mutations(raw: bytes) -> list[bytes]:
    """Cuts and flipped bytes at spread-out places, the same every run."""
    places = [len(raw) * k // 7 for k in range(1, 7)]
    cuts = [raw[:at] for at in places]
    flips = [raw[:at] + bytes([raw[at] ^ 0x5A]) + raw[at + 1 :] for at in places]
    return [*cuts, *flips, b"", b"\xef\xbb\xbf" + raw, raw.replace(b'"entry"', b'"entry": 7, "x"')]


@pytest.mark.parametrize(
    "relative",
    [
        "fhir/nhs-pds/postalcode_wildcard_searchset.json",
        "fhir/nhs-pds/patient_9000000009.json",
        "fhir/nhs-pds/Referenced_RelatedPersonBundle.json",
        "fhir/smart-bulk-10/Patient.000.ndjson",
    ],
)
def test_mutated_published_files_never_crash_and_every_item_is_accounted(
    tmp_path: Path, relative: str
) -> None:
    original = (EXTRA / relative).read_bytes()
    for number, mutated in enumerate(_mutations(original)):
        path = tmp_path / f"m{number}{Path(relative).suffix}"
        path.write_bytes(mutated)
        lines = list(stage_items("health__fhir_patient", path, "t", RECEIVED))
        for line in lines:
            assert line["kind"] in ("record", "held", "not_read", "validation"), number
            if line["kind"] == "held":
                assert line["reasons"] and all(r["explain"] or r["rule"] for r in line["reasons"])
        (counted,) = [e for e in lines[-1]["summary"] if e["rule"] == RECORD_COUNT_RULE]
        assert counted["failed"] == 0, (number, counted["detail"])


def test_a_byte_order_mark_is_read_past(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    document = tmp_path / "one.json"
    document.write_bytes(bom + (EXTRA / PDS / "patient_9000000009.json").read_bytes())
    lines = tmp_path / "bulk.ndjson"
    lines.write_bytes(bom + json.dumps(_patient(id="a")).encode() + b"\n")
    for path in (document, lines):
        (item,), _ = _read(path)
        assert item.ok, item.error


def test_the_rest_source_holds_an_overlong_patient_too(tmp_path: Path) -> None:
    """The FHIR API's landed NDJSON is validated by the same function: the same limit."""
    path = tmp_path / "fhir_api.ndjson"
    long_one = _patient(id="a", name=[{"family": "C" * 100_000}])
    path.write_text(json.dumps(long_one) + "\n" + json.dumps(_patient(id="b")) + "\n")
    first, second = FhirRestConnector({}).parse(path)
    assert first.error == f"field name[0].family longer than {MAX_FIELD} characters"
    assert second.ok
