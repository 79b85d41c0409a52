"""SSDA903 looked-after children return: the published samples, table by table.

The small liia-tools header table is a full golden file (tests/golden). The data-to-insight
samples are thousands of rows, so their golden file is a summary: how many items came out as
records, quarantined or rejected and why, plus the first records in full.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.registry import CONNECTORS
from connectors.social_care.ssda903 import TABLES, table_of
from gateway.mapping.transforms import looked_after_periods, ssda903_upn
from gateway.pipeline.staging import stage_items

GOLDEN = Path(__file__).parent / "golden"
EXTRA = Path(__file__).parent / "samples_extra" / "social-care" / "ssda903"
RECEIVED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SSDA903 = "social-care/ssda903"
SUMMARISED = ["d2i_header.csv", "d2i_fake_903.xml"]
NOT_READ = [
    ("liiatools_SSDA903_2020_episodes.csv", "episodes"),
    ("d2i_episodes.csv", "episodes"),
    ("d2i_reviews.csv", "reviews"),
    ("d2i_uasc.csv", "uasc"),
    ("d2i_missing.csv", "missing"),
    ("d2i_oc2.csv", "oc2"),
    ("d2i_oc3.csv", "oc3"),
    ("d2i_ad1.csv", "ad1"),
    ("d2i_placed_for_adoption.csv", "placed_for_adoption"),
    ("d2i_previous_permanence.csv", "previous_permanence"),
]


def _stage(samples: Path, name: str) -> list[dict[str, Any]]:
    return list(stage_items("social_care__ssda903", samples / SSDA903 / name, "golden", RECEIVED))


def _summary(lines: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    for line in lines:
        if line["kind"] == "record":
            warned = ",".join(sorted({w["rule"] for w in line["warnings"]})) or "none"
            outcomes[f"record (warnings: {warned})"] += 1
        elif line["kind"] == "held":
            rules = ",".join(sorted({r["rule"] for r in line["reasons"]}))
            outcomes[f"{line['status']} ({rules})"] += 1
    records = [line for line in lines if line["kind"] == "record"]
    return {"outcomes": dict(sorted(outcomes.items())), "first_records": records[:3]}


@pytest.mark.parametrize("name", SUMMARISED)
def test_large_sample_maps_to_expected_summary(samples: Path, name: str) -> None:
    actual = json.dumps(_summary(_stage(samples, name)), indent=2, sort_keys=True) + "\n"
    expected = GOLDEN / f"{Path(name).stem}.summary.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected.write_text(actual, encoding="utf-8")
    assert actual == expected.read_text(encoding="utf-8")


def test_repeated_child_id_with_other_details_is_held(samples: Path) -> None:
    """liia-tools' header table gives CHILD 689661 three birth dates: only the first is kept;
    the others are held naming the line they contradict, and no birth date is in the reason."""
    lines = _stage(samples, "liiatools_SSDA903_2020_header.csv")
    held = [line for line in lines if line["kind"] == "held"]
    assert [h["item_key"] for h in held] == [
        "liiatools_SSDA903_2020_header.csv line 3",
        "liiatools_SSDA903_2020_header.csv line 4",
        "liiatools_SSDA903_2020_header.csv line 6",
    ]
    explain = held[0]["reasons"][0]["explain"]
    assert explain == (
        "same CHILD as liiatools_SSDA903_2020_header.csv line 2 with different content"
    )
    assert "2012" not in explain
    records = [line["record"] for line in lines if line["kind"] == "record"]
    assert [r["provenance"]["record_id"] for r in records] == ["689661", "249901"]


def test_xml_return_carries_looked_after_periods(samples: Path) -> None:
    lines = _stage(samples, "d2i_fake_903.xml")
    first = next(line["record"] for line in lines if line["kind"] == "record")
    assert first["identity"]["local_ids"] == {"la_social_care": "907440"}
    # Two episodes, the second starting the day the first ended: one period of care.
    assert first["social_care"]["looked_after"] == [
        {"start_date": "2017-01-06", "end_date": "2018-03-07", "reason": None}
    ]


@pytest.mark.parametrize(("name", "table"), NOT_READ)
def test_other_tables_are_recognised_and_yield_nothing(
    samples: Path, name: str, table: str
) -> None:
    path = samples / SSDA903 / name
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert table_of(set(header)) == table
    connector = CONNECTORS["social_care__ssda903"]({"path": str(path)})
    assert list(connector.read(path)) == []
    rows = len(path.read_text(encoding="utf-8").strip().splitlines()) - 1
    assert dict(connector.not_read) == {f"{table} table rows": rows}


@pytest.mark.parametrize(
    ("name", "table", "rows"),
    [
        ("d2i_DoLo.csv", "dolo", 1),
        ("d2i_sw_episodes.csv", "social_worker_episodes", 1),  # begins with a byte-order mark
        ("d2i_placed_for_adoption_errors.csv", "placed_for_adoption", 30),
    ],
)
def test_published_dolo_and_social_worker_tables_are_kept_not_read(
    name: str, table: str, rows: int
) -> None:
    path = EXTRA / name
    connector = CONNECTORS["social_care__ssda903"]({"path": str(path)})
    assert list(connector.read(path)) == []
    assert dict(connector.not_read) == {f"{table} table rows": rows}


# Every table of the return with its columns in the 2024-25 specification, as
# data-to-insight/csc-validator-be-903 (lac_validator/config.py) lists them.
SPECIFICATION = {
    "header": "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB",
    "episodes": "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,"
    "HOME_POST,PL_POST,URN",
    "reviews": "CHILD,DOB,REVIEW,REVIEW_CODE",
    "uasc": "CHILD,SEX,DOB,DUC",
    "oc2": "CHILD,DOB,SDQ_SCORE,SDQ_REASON,CONVICTED,HEALTH_CHECK,IMMUNISATIONS,TEETH_CHECK,"
    "HEALTH_ASSESSMENT,SUBSTANCE_MISUSE,INTERVENTION_RECEIVED,INTERVENTION_OFFERED",
    "oc3": "CHILD,DOB,IN_TOUCH,ACTIV,ACCOM",
    "ad1": "CHILD,DOB,DATE_INT,DATE_MATCH,FOSTER_CARE,NB_ADOPTR,SEX_ADOPTR,LS_ADOPTR",
    "placed_for_adoption": "CHILD,DOB,DATE_PLACED,DATE_PLACED_CEASED,REASON_PLACED_CEASED",
    "previous_permanence": "CHILD,DOB,PREV_PERM,LA_PERM,DATE_PERM",
    "missing": "CHILD,DOB,MISSING,MIS_START,MIS_END",
    "social_worker_episodes": "CHILD,DOB,SW_ID,SW_DECOM,SW_DEC,SW_REASON",
    "dolo": "CHILD,DOB,DOLO_START,DOLO_END",
}


@pytest.mark.parametrize(("table", "columns"), SPECIFICATION.items())
def test_every_table_of_the_specification_is_recognised(table: str, columns: str) -> None:
    assert table_of(set(columns.split(","))) == table
    assert table_of({c.lower() for c in columns.split(",")}) == table
    assert set(SPECIFICATION) == set(TABLES)


def test_header_with_lower_case_columns_is_read(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("child,sex,dob,ethnic,upn,mother,mc_dob\n123,1,01/02/2015,WBRI,UN1,,\n")
    lines = list(stage_items("social_care__ssda903", path, "t", RECEIVED))
    (record,) = [line["record"] for line in lines if line["kind"] == "record"]
    assert record["identity"]["local_ids"] == {"la_social_care": "123"}
    assert record["identity"]["birth_date"] == "2015-02-01"


def test_rows_before_the_first_readable_one_are_kept_and_the_table_still_judged(
    tmp_path: Path,
) -> None:
    """A ragged first row cannot say which table the file is: the next row does, and the
    ragged one is still an item of the file."""
    path = tmp_path / "header.csv"
    path.write_text("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n1,2\n7,1,01/02/2015,WBRI,UN1,,\n")
    items = list(CONNECTORS["social_care__ssda903"]({"path": str(path)}).read(path))
    assert [(i.position, i.ok) for i in items] == [
        ("header.csv line 2", False),
        ("header.csv line 3", True),
    ]
    path.write_text("CHILD,DOB,DOLO_START,DOLO_END\n1,2\n7,01/02/2015,01/01/2025,\n")
    connector = CONNECTORS["social_care__ssda903"]({"path": str(path)})
    assert list(connector.read(path)) == []
    assert dict(connector.not_read) == {"dolo table rows": 2}


def test_a_csv_that_is_no_ssda903_table_is_an_error_row_by_row(tmp_path: Path) -> None:
    """Each row refused with the reason, so the rows counted in the file are all accounted."""
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    connector = CONNECTORS["social_care__ssda903"]({"path": str(path)})
    items = list(connector.read(path))
    assert [(i.position, i.error) for i in items] == [
        ("other.csv line 2", "not an SSDA903 table (columns)"),
        ("other.csv line 3", "not an SSDA903 table (columns)"),
    ]
    assert connector.count_records(path) == 2


def test_no_upn_reason_codes_are_no_upn() -> None:
    assert ssda903_upn("UN1") is None
    assert ssda903_upn("un10") is None
    assert ssda903_upn("UN11") == "UN11"


def test_periods_join_episodes_that_follow_on() -> None:
    episodes = [
        {"DECOM": "10/04/2019", "DEC": "24/06/2019"},
        {"DECOM": "30/03/2019", "DEC": "10/04/2019"},
        {"DECOM": "01/09/2019", "DEC": None},
    ]
    assert looked_after_periods(episodes, date_formats=["%d/%m/%Y"]) == [
        {"start_date": datetime(2019, 3, 30).date(), "end_date": datetime(2019, 6, 24).date()},
        {"start_date": datetime(2019, 9, 1).date(), "end_date": None},
    ]


def test_episode_without_start_is_a_mapping_error() -> None:
    with pytest.raises(ValueError, match="without a start date"):
        looked_after_periods([{"DECOM": "", "DEC": "01/01/2020"}], date_formats=["%d/%m/%Y"])
