"""Schools' notifications that a pupil was removed from roll (CSV, one notification a row).

A school must tell the LA when it deletes a pupil from its admission register (Education
(Pupil Registration) (England) Regulations 2006, reg. 8 and 13), with the ground and, where
known, the destination; a removal for elective home education is the usual first sign of an
EHE child. Schools send these through the LA's portal, which exports them as CSV. Column names
are in the mapping YAML, as for the EHE register.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connectors.base import Extracted, FileDropConnector, Stream
from connectors.csv_rows import count_records, read_csv_rows

_TEXT = {"type": ["string", "null"]}
SCHEMA = {
    "type": "object",
    "required": ["NotificationRef", "SchoolLAEstab", "DateRemoved"],
    "properties": {
        "NotificationRef": {"type": "string", "minLength": 1},
        "SchoolLAEstab": {"type": "string", "pattern": "^[0-9]{3}[0-9A-Z]{4}$"},
        "DateRemoved": {"type": "string"},
    },
    "additionalProperties": _TEXT,
}


class RemovalFromRollConnector(FileDropConnector):
    source = "education__removal_from_roll"
    agency = "education"
    schedule = "@daily"
    inbox_folder = "education/removal_from_roll"
    description = "Schools' notifications of pupils removed from roll (CSV from the LA portal)"
    patterns = ("*.csv",)
    stream = Stream(
        "removals", primary_key=("NotificationRef",), bookmark_field=None, schema=SCHEMA
    )

    def count_records(self, path: Path) -> int | None:
        return count_records(path)

    def parse(self, path: Path) -> Iterator[Extracted]:
        yield from read_csv_rows(path)
