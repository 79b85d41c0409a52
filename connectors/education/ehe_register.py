"""The LA's elective home education register and children-missing-education list (CSV export).

Column names differ between LA education systems; the mapping YAML names them, not this code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connectors.base import Extracted, FileDropConnector, Stream
from connectors.csv_rows import count_records, read_csv_rows

SCHEMA = {
    "type": "object",
    # Column names are the LA system's (the mapping names them); every value is text or empty.
    "additionalProperties": {"type": ["string", "null"]},
    "minProperties": 1,
}


class EheRegisterConnector(FileDropConnector):
    source = "education__ehe_register"
    agency = "education"
    schedule = "@daily"
    inbox_folder = "education/ehe_register"
    stale_after_hours = 48.0
    description = (
        "LA register of electively home-educated children and children missing education (CSV)"
    )
    patterns = ("*.csv",)
    stream = Stream(
        "register_entries", primary_key=("ChildRef",), bookmark_field=None, schema=SCHEMA
    )

    def count_records(self, path: Path) -> int | None:
        return count_records(path)

    def parse(self, path: Path) -> Iterator[Extracted]:
        yield from read_csv_rows(path)
