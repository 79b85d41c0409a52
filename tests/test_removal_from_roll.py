"""Schools' removal-from-roll notifications: the row becomes a child with the ended enrolment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway.pipeline.staging import stage_items

HEADER = (
    "NotificationRef,SchoolLAEstab,SchoolName,UPN,Forename,Surname,DOB,Gender,AddressLine1,"
    "Town,Postcode,DateRemoved,RemovalGround,Destination\r\n"
)


def test_removal_maps_to_ended_enrolment_and_bad_rows_are_held(tmp_path: Path) -> None:
    path = tmp_path / "removals.csv"
    path.write_text(
        HEADER + "ROR1,8152004,Ermysted's Primary,B815200425030,Chloe,Chapman,21/10/2015,F,"
        "116 North Road,Whitby,YO22 4GW,01/10/2026,EHE,Home education\r\n"
        + "ROR2,8152004,Ermysted's Primary,,Sam,Smith,31/02/2015,M,1 High St,Whitby,"
        "YO21 1AA,01/10/2026,MOVED,\r\n"
        + "ROR1,8152004,Ermysted's Primary,,Sam,Smith,01/02/2015,M,1 High St,Whitby,"
        "YO21 1AA,01/10/2026,MOVED,\r\n",
        encoding="utf-8",
    )
    lines = list(
        stage_items("education__removal_from_roll", path, "b", datetime(2026, 11, 1, tzinfo=UTC))
    )
    records = [line["record"] for line in lines if line["kind"] == "record"]
    held = {line["item_key"]: line for line in lines if line["kind"] == "held"}
    assert len(records) == 1
    assert records[0]["identity"]["upn"] == "B815200425030"
    assert records[0]["education"]["enrolments"] == [
        {
            "school_id": "8152004",
            "school_name": "Ermysted's Primary",
            "entry_date": None,
            "leaving_date": "2026-10-01",
            "leaving_reason": "EHE",
            "destination": "Home education",
        }
    ]
    assert held["removals.csv line 3"]["status"] == "quarantined"
    assert "identity.birth_date" in held["removals.csv line 3"]["reasons"][0]["explain"]
    assert "2015" not in held["removals.csv line 3"]["reasons"][0]["explain"]
    assert held["removals.csv line 4"]["reasons"][0]["explain"] == (
        "same NotificationRef as removals.csv line 2 with different content"
    )
