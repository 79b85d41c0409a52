"""DfE Children in Need census (XML): one record per child, with referrals and plans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from connectors.base import Extracted, FileDropConnector, Stream
from connectors.xml_stream import count_records, xml_records

_TEXT = {"type": ["string", "null"]}
SCHEMA = {
    "type": "object",
    "required": ["ChildIdentifiers"],
    "properties": {
        "ChildIdentifiers": {
            "type": "object",
            "required": ["LAchildID"],
            "properties": {
                "LAchildID": {"type": "string", "minLength": 1},
                "UPN": _TEXT,
                "FormerUPN": {"type": ["string", "array", "null"]},
                "PersonBirthDate": _TEXT,
                "GenderCurrent": _TEXT,
            },
        },
        "ChildCharacteristics": {"type": ["object", "null"]},
        "CINdetails": {"type": ["object", "array", "null"]},
    },
}


class CinCensusConnector(FileDropConnector):
    source = "social_care__cin_census"
    agency = "social_care"
    schedule = "@weekly"
    inbox_folder = "social_care/cin"
    full_snapshot = True
    stale_after_hours = 24.0 * 8
    description = "DfE Children in Need census return (XML)"
    patterns = ("*.xml", "*.XML")
    stream = Stream(
        "children", primary_key=("ChildIdentifiers.LAchildID",), bookmark_field=None, schema=SCHEMA
    )

    def count_records(self, path: Path) -> int | None:
        return count_records(path, "Child")

    def parse(self, path: Path) -> Iterator[Extracted]:
        for item in xml_records(path, "Child", "child"):
            identifiers = (item.record or {}).get("ChildIdentifiers")
            if item.record is not None and not (
                isinstance(identifiers, dict) and identifiers.get("LAchildID")
            ):
                yield Extracted(
                    item.position, error="child without an LAchildID", raw=json.dumps(item.record)
                )
            else:
                yield item
