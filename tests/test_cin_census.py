"""CIN census XML from the 2021-22 to the 2025-26 specifications.

What changed in the child's identity across the years (DfE CIN census specifications, as the
published XSDs in liia-tools spec/cin_census and data-to-insight's csc-validator-be-cin read
them): ``GenderCurrent`` (1, 2, 0, 9) until 2023-24, then ``Sex`` (M, F, U); referral source
5D and closure reason RC9 from 2023-24; ``PreProceedingsandFGDM`` inside ``CINdetails`` from
2025-26. The published files mix the codes of the two sex elements, and are read either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.mapping.transforms import MappingValueError, cin_sex
from gateway.pipeline.staging import stage_items

RECEIVED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
EXTRA = Path(__file__).parent / "samples_extra" / "social-care" / "cin"

CHILD = """<Child>
  <ChildIdentifiers>
    <LAchildID>{child_id}</LAchildID>
    <UPNunknown>UN1</UPNunknown>
    <PersonBirthDate>2016-02-11</PersonBirthDate>
    {sex}
  </ChildIdentifiers>
  <CINdetails>
    <CINreferralDate>2025-10-06</CINreferralDate>
    <ReferralSource>5D</ReferralSource>
    <CINclosureDate>2026-01-20</CINclosureDate>
    <ReasonForClosure>RC9</ReasonForClosure>
    <CINPlanDates><CINPlanStartDate>2025-11-01</CINPlanStartDate></CINPlanDates>
    {extra}
  </CINdetails>
</Child>"""
PRE_PROCEEDINGS = """<PreProceedingsandFGDM>
      <PPStartDate>2025-12-01</PPStartDate><PPOutcome>A</PPOutcome>
    </PreProceedingsandFGDM>"""


def _census(tmp_path: Path, year: int, children: list[str]) -> Path:
    path = tmp_path / f"cin_{year}.xml"
    body = "\n".join(children)
    path.write_text(
        f"<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>"
        f"</CollectionDetails></Header><Children>{body}</Children></Message>",
        encoding="utf-8",
    )
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return list(stage_items("social_care__cin_census", path, "t", RECEIVED))


def _records(path: Path) -> list[dict[str, Any]]:
    return [line["record"] for line in _lines(path) if line["kind"] == "record"]


@pytest.mark.parametrize(
    ("year", "sex_element", "expected"),
    [
        (2022, "<GenderCurrent>1</GenderCurrent>", "male"),
        (2023, "<GenderCurrent>2</GenderCurrent>", "female"),
        (2024, "<GenderCurrent>9</GenderCurrent>", "unknown"),
        (2025, "<Sex>F</Sex>", "female"),
        (2026, "<Sex>U</Sex>", "unknown"),
    ],
)
def test_each_years_identity_is_read(
    tmp_path: Path, year: int, sex_element: str, expected: str
) -> None:
    extra = PRE_PROCEEDINGS if year == 2026 else ""
    child = CHILD.format(child_id=f"C{year}", sex=sex_element, extra=extra)
    (record,) = _records(_census(tmp_path, year, [child]))
    assert record["identity"]["sex"] == expected
    assert record["identity"]["local_ids"] == {"la_social_care": f"C{year}"}
    assert record["identity"]["birth_date"] == "2016-02-11"
    assert record["social_care"]["referrals"] == [
        {"start_date": "2025-10-06", "end_date": "2026-01-20", "reason": "5D"}
    ]
    assert record["social_care"]["child_in_need"] == [
        {"start_date": "2025-11-01", "end_date": None, "reason": None}
    ]


def test_a_sex_code_in_neither_list_is_held_with_the_field_named(tmp_path: Path) -> None:
    child = CHILD.format(child_id="X1", sex="<Sex>Q</Sex>", extra="")
    (held,) = [line for line in _lines(_census(tmp_path, 2025, [child])) if line["kind"] == "held"]
    assert held["status"] == "quarantined"
    assert held["reasons"] == [
        {
            "stage": "mapping",
            "rule": "mapping_failed",
            "explain": "identity.sex: sex code not in the census's code lists",
        }
    ]


def test_sex_codes_of_both_elements() -> None:
    assert cin_sex({"Sex": "m"}) == "male"
    assert cin_sex({"Sex": "1"}) == "male"  # the published 2024 and 2026 samples do this
    assert cin_sex({"GenderCurrent": "0"}) == "unknown"
    assert cin_sex({"Sex": "F", "GenderCurrent": "1"}) == "female"  # the newer element wins
    assert cin_sex({}) is None
    with pytest.raises(MappingValueError):
        cin_sex({"GenderCurrent": "7"})


def test_published_2026_sample_with_pre_proceedings(tmp_path: Path) -> None:
    """data-to-insight's 2026 sample: the 2024-25 Sex element with a 1 for one child and an M
    for the other, PreProceedingsandFGDM, and stray text between elements."""
    records = _records(EXTRA / "d2i_CIN_Census_2026.xml")
    assert [(r["provenance"]["record_id"], r["identity"]["sex"]) for r in records] == [
        ("DfEX0000001", "male"),
        ("child_fails_assessments", "male"),
    ]
    assert records[0]["social_care"]["child_protection_plans"] == [
        {"start_date": "2022-02-17", "end_date": "2023-03-14", "reason": None}
    ]


def test_a_death_date_records_the_child_as_deceased(samples: Path) -> None:
    """liia-tools' 2022 sample carries PersonDeathDate: the record says deceased (and keeps
    the date out of the identity)."""
    lines = _lines(samples / "social-care/cin/liiatools_cin-2022.xml")
    (held,) = [line for line in lines if line["kind"] == "held"]
    assert '"deceased":true' in held["payload"]


def test_an_unborn_child_has_no_birth_date(tmp_path: Path) -> None:
    child = CHILD.format(child_id="U1", sex="<Sex>U</Sex>", extra="").replace(
        "<PersonBirthDate>2016-02-11</PersonBirthDate>",
        "<ExpectedPersonBirthDate>2026-12-20</ExpectedPersonBirthDate>",
    )
    lines = _lines(_census(tmp_path, 2026, [child]))
    (held,) = [line for line in lines if line["kind"] == "held"]
    assert held["record_id"] == "U1"
    assert {r["rule"] for r in held["reasons"]} == {"birth_date_required"}


def test_older_codes_in_the_newer_sex_element_are_read_with_a_warning() -> None:
    lines = _lines(EXTRA / "d2i_CIN_Census_2026.xml")
    warned = {
        line["record"]["provenance"]["record_id"]: sorted({w["rule"] for w in line["warnings"]})
        for line in lines
        if line["kind"] == "record"
    }
    assert "cin_sex_code" in warned["DfEX0000001"]  # <Sex>1</Sex>
    assert "cin_sex_code" not in warned["child_fails_assessments"]  # <Sex>M</Sex>
