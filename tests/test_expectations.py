"""Expectations: every defect in the real samples is caught by a named expectation, and each
custom expectation fails what it should and passes what it should."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.identifiers import is_valid_nhs_number, is_valid_upn, normalise_postcode
from gateway.model import CanonicalRecord
from gateway.pipeline.staging import stage_items
from gateway.validation import checks
from gateway.validation.frames import raw_row
from gateway.validation.runner import validate_records

RECEIVED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
FHIR = "{http://hl7.org/fhir}"

# Each defect MANIFEST.md lists, the sample that carries it, and the expectation that catches it.
DEFECTS = [
    (
        "UK Core baby's NHS number 9912003890 fails Modulus 11",
        "health__fhir_patient",
        "fhir/ukcore/UKCore-Patient-BabyPatient-Example.xml",
        "nhs_number_valid",
    ),
    (
        "PDS sandbox NHS number 9000000015 fails Modulus 11",
        "health__fhir_patient",
        "fhir/nhs-pds/PatientCompoundName.json",
        "nhs_number_valid",
    ),
    (
        "PDS sandbox NHS number 9000000015 fails Modulus 11 (search set)",
        "health__fhir_patient",
        "fhir/nhs-pds/john_paul_smith_searchset.json",
        "nhs_number_valid",
    ),
    (
        "ITK A28 birth date in month 13",
        "health__hl7v2_adt",
        "hl7v2/nhs-itk-v2.4/ITK_ADT_A28_Example.hl7",
        "hl7_birth_date_is_a_real_date",
    ),
    (
        "ITK A31 birth date in month 13",
        "health__hl7v2_adt",
        "hl7v2/nhs-itk-v2.4/ITK_ADT_A31_example.hl7",
        "hl7_birth_date_is_a_real_date",
    ),
    *[
        (
            f"ITK {name} phone field fails hl7apy's strict validation",
            "health__hl7v2_adt",
            f"hl7v2/nhs-itk-v2.4/ITK_ADT_{name}.hl7",
            "hl7_phone_in_standard_format",
        )
        for name in (
            "A01_example",
            "A03_example",
            "A04_example",
            "A05_Example",
            "A08_example",
            "A28_Example",
            "A31_example",
            "A40_Example",
        )
    ],
    (
        "ITK NHS number 3333333333 (PID-3 without NH type) is all one digit",
        "health__hl7v2_adt",
        "hl7v2/nhs-itk-v2.4/ITK_ADT_A01_example.hl7",
        "nhs_number_valid",
    ),
    (
        "CIN census true/false where the schema says 0/1 (ReferralNFA)",
        "social_care__cin_census",
        "social-care/cin/liiatools_cin-2022.xml",
        "cin_yes_no_flag_is_0_or_1",
    ),
    (
        "CIN census true/false where the schema says 0/1 (ICPCnotRequired)",
        "social_care__cin_census",
        "social-care/cin/d2i_CIN_Census_2024.xml",
        "cin_icpc_flag_is_0_or_1",
    ),
    (
        "CIN census UPNs fail the check letter",
        "social_care__cin_census",
        "social-care/cin/d2i_fake_CIN_data.xml",
        "upn_valid",
    ),
    (
        "PDS search set: 20 people named Sam Smith with the same birth date",
        "health__fhir_patient",
        "fhir/nhs-pds/fuzzy_multimatch_searchset.json",
        "same_name_and_birth_date_in_batch",
    ),
]


def _failed_rules(samples: Path, source: str, relative: str) -> dict[str, int]:
    """Rule -> records failing it, as the pipeline's staging step reports it."""
    if relative.endswith(".xml") and source == "health__fhir_patient":
        return _failed_rules_fhir_xml(samples / relative)
    lines = list(stage_items(source, samples / relative, "defects", RECEIVED))
    (summary,) = [line["summary"] for line in lines if line["kind"] == "validation"]
    return {entry["rule"]: entry["failed"] for entry in summary}


def _failed_rules_fhir_xml(path: Path) -> dict[str, int]:
    """The FHIR connector reads JSON; this UK Core example is XML, so read its NHS number here."""
    root = ET.parse(path).getroot()
    number = next(
        ident.find(f"{FHIR}value").get("value")  # type: ignore[union-attr]
        for ident in root.iter(f"{FHIR}identifier")
        if "nhs-number" in (ident.find(f"{FHIR}system").get("value") or "")  # type: ignore[union-attr]
    )
    outcome = validate_records([_record(nhs_number=number)])
    return {entry["rule"]: entry["failed"] for entry in outcome.summary}


@pytest.mark.parametrize(
    ("defect", "source", "relative", "rule"), DEFECTS, ids=[d[0] for d in DEFECTS]
)
def test_sample_defect_is_caught_by_named_expectation(
    samples: Path, defect: str, source: str, relative: str, rule: str
) -> None:
    failed = _failed_rules(samples, source, relative)
    assert failed.get(rule, 0) >= 1, f"{defect}: {rule} did not fail ({failed})"


def test_clean_sample_fails_none_of_those(samples: Path) -> None:
    """The PDS example patient (valid NHS number, one record) trips none of the defect rules."""
    failed = _failed_rules(samples, "health__fhir_patient", "fhir/nhs-pds/Patient.json")
    assert failed["nhs_number_valid"] == 0
    assert failed["same_name_and_birth_date_in_batch"] == 0


def _record(**identity: Any) -> CanonicalRecord:
    education = identity.pop("education", None)
    social_care = identity.pop("social_care", None)
    identity.setdefault("birth_date", RECEIVED.date() - timedelta(days=365 * 10))
    identity.setdefault("sex", "female")
    return CanonicalRecord.model_validate(
        {
            "provenance": {
                "source": "test",
                "record_id": identity.pop("record_id", "r1"),
                "batch_id": "b1",
                "received_at": RECEIVED,
            },
            "agency": "education" if education else "social_care",
            "identity": identity,
            "education": education,
            "social_care": social_care,
        }
    )


def _rules(record: CanonicalRecord) -> dict[str, str]:
    outcome = validate_records([record])
    return {f.rule: f.severity for f in outcome.failures.get(0, [])}


def test_left_before_joined_is_critical_and_names_the_dates() -> None:
    spells = [
        {"entry_date": "2019-09-01", "leaving_date": "2020-07-20", "leaving_reason": "MOVED"},
        {"entry_date": "2021-09-01", "leaving_date": "2021-03-01", "leaving_reason": "EHE"},
        {"entry_date": "2022-09-01"},
    ]
    outcome = validate_records([_record(education={"enrolments": spells})])
    (failure,) = [f for f in outcome.failures[0] if f.rule == "left_after_joined"]
    assert failure.severity == "critical"
    assert failure.values == {
        "enrolment_entry_date": "2021-09-01",
        "enrolment_leaving_date": "2021-03-01",
    }


def test_open_spells_and_ordered_dates_pass() -> None:
    spells = [
        {"entry_date": "2019-09-01", "leaving_date": "2019-09-01"},
        {"entry_date": "2022-01-01"},
    ]
    plans = {"child_protection_plans": [{"start_date": "2023-01-01"}]}
    assert _rules(_record(education={"enrolments": spells})) == {}
    assert _rules(_record(social_care=plans)) == {}


def test_plan_ended_before_it_began_is_critical() -> None:
    care = {"child_in_need": [{"start_date": "2024-05-01", "end_date": "2024-04-30"}]}
    assert _rules(_record(social_care=care))["plan_ended_after_it_began"] == "critical"


def test_ehe_deregistered_before_registered_is_critical() -> None:
    education = {"ehe": [{"registered_on": "2024-05-01", "deregistered_on": "2023-01-01"}]}
    assert _rules(_record(education=education))["ehe_ended_after_it_began"] == "critical"


def test_codes_outside_the_code_lists_warn() -> None:
    education = {"enrolments": [{"entry_date": "2020-01-01", "leaving_reason": "EXPELLED"}]}
    care = {"referrals": [{"start_date": "2024-01-01", "reason": "1A"}, {"reason": "ZZ"}]}
    assert _rules(_record(education=education))["leaving_reason_code"] == "warning"
    assert _rules(_record(social_care=care))["referral_source_code"] == "warning"


def test_event_before_birth_is_a_cross_field_warning() -> None:
    care = {"referrals": [{"start_date": "2001-01-01", "reason": "1A"}]}
    assert _rules(_record(birth_date=date(2015, 1, 1), social_care=care)) == {
        "events_after_birth": "warning"
    }


def test_future_birth_date_is_quarantined() -> None:
    tomorrow = RECEIVED.date() + timedelta(days=1)
    assert _rules(_record(birth_date=tomorrow))["birth_date_plausible"] == "critical"


def test_birth_date_is_judged_on_the_day_the_record_was_received() -> None:
    """Not the day the suite runs: a 19-year-old received in 2010 is 35 today, still plausible,
    and one born after the record was received is not, however long ago that was."""
    old = datetime(2010, 1, 1, tzinfo=UTC)
    assert "birth_date_plausible" not in _rules(
        _record(birth_date=date(1990, 6, 1)).model_copy(
            update={"provenance": _record().provenance.model_copy(update={"received_at": old})}
        )
    )
    received = RECEIVED.date()
    too_old = received.replace(year=received.year - 26)
    in_range = received.replace(year=received.year - 24)
    assert _rules(_record(birth_date=too_old))["birth_date_plausible"] == "critical"
    assert "birth_date_plausible" not in _rules(_record(birth_date=in_range))


def test_column_gates_only_fail_the_batch_never_a_record() -> None:
    records = [_record(record_id=f"r{n}", sex=None) for n in range(12)]
    outcome = validate_records(records)
    gates = {e["rule"]: e["failed"] for e in outcome.summary if e.get("gate")}
    assert gates == {
        "sex_column_filled": 12,
        "birth_date_column_filled": 0,
        "record_id_column_filled": 0,
    }
    assert all(f.rule != "sex_column_filled" for fs in outcome.failures.values() for f in fs)
    small = validate_records(records[:3])
    assert {e["rule"]: e["failed"] for e in small.summary if e.get("gate")}[
        "sex_column_filled"
    ] == 0


def test_raw_row_walks_nested_lists_and_joins_codes() -> None:
    item = {
        "CINdetails": [{"ReferralNFA": "false"}, {"ReferralNFA": "1"}],
        "PID-7": [["20100101"], ["20200101"]],
    }
    row = raw_row(item, {"nfa": "CINdetails.ReferralNFA", "dob": "PID-7.0.0", "no": "X.Y"})
    assert row == {"nfa": "false|1", "dob": "20100101", "no": None}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"9\d{9}|\d{3} \d{3} \d{4}|\d{9}|[0-9A-Z]{10}", fullmatch=True)))
def test_vectorised_nhs_check_agrees_with_scalar(values: list[str]) -> None:
    got = checks.nhs_number_valid(pd.Series(values, dtype=object)).tolist()
    assert got == [is_valid_nhs_number(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"[A-Z](815|201|000|999)\d{8}[0-9A-Z]|[A-Z]\d{5}", fullmatch=True)))
def test_vectorised_upn_check_agrees_with_scalar(values: list[str]) -> None:
    got = checks.upn_valid(pd.Series(values, dtype=object)).tolist()
    assert got == [is_valid_upn(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.from_regex(r"[A-Za-z]{1,2}\d[A-Za-z0-9]? ?\d[A-Za-z]{2}|[A-Z0-9 ]{3,9}", fullmatch=True)
    )
)
def test_vectorised_postcode_check_agrees_with_scalar(values: list[str]) -> None:
    got = checks.uk_postcode(pd.Series(values, dtype=object)).tolist()
    assert got == [normalise_postcode(v) is not None for v in values]


def test_real_date_reads_hl7_timestamps() -> None:
    got = checks.real_date(pd.Series(["20100102", "196513121515", "2010", "20240230"]), "%Y%m%d")
    assert got.tolist() == [True, False, False, False]
