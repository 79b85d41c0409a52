"""DfE Common Transfer File (CTF XML): one record per pupil, with the file's header facts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import Extracted, FileDropConnector, Stream
from connectors.xml_stream import count_records, first_record, path_text, xml_records

_TEXT = {"type": ["string", "null"]}
_OBJECT_OR_LIST = {"type": ["object", "array", "null"]}
SCHEMA = {
    "type": "object",
    "required": ["UPN", "Header"],
    "properties": {
        "UPN": {"type": "string", "minLength": 1},
        "Surname": _TEXT,
        "Forename": _TEXT,
        "DOB": _TEXT,
        "Sex": _TEXT,
        "Address": _OBJECT_OR_LIST,
        "SchoolHistory": _OBJECT_OR_LIST,
        "Header": {
            "type": "object",
            "additionalProperties": _TEXT,
            "required": ["source_lea", "source_estab", "created"],
        },
    },
}


class CommonTransferFileConnector(FileDropConnector):
    source = "education__ctf"
    agency = "education"
    schedule = "@hourly"
    inbox_folder = "education/ctf"
    stale_after_hours = 72.0
    description = "DfE Common Transfer File (XML) sent to the LA when a pupil leaves a school"
    patterns = ("*.xml", "*.XML")
    stream = Stream("pupils", primary_key=("UPN",), bookmark_field=None, schema=SCHEMA)

    def count_records(self, path: Path) -> int | None:
        return count_records(path, "Pupil")

    def parse(self, path: Path) -> Iterator[Extracted]:
        header = _read_header(path)
        for item in xml_records(path, "Pupil", "pupil"):
            if item.record is None:
                yield item
            elif not item.record.get("UPN"):
                yield Extracted(
                    item.position, error="pupil without a UPN", raw=json.dumps(item.record)
                )
            else:
                item.record["Header"] = header  # the dict is this item's own: no copy
                yield item


HEADER_FIELDS = {
    "source_lea": "SourceSchool/LEA",
    "source_estab": "SourceSchool/Estab",
    "source_school_name": "SourceSchool/SchoolName",
    "dest_lea": "DestSchool/LEA",
    "dest_estab": "DestSchool/Estab",
    "created": "DateTime",
}


def _read_header(path: Path) -> dict[str, Any]:
    """The file's header facts; all None where the file has no readable header."""
    header = first_record(path, "Header")
    return {name: path_text(header, where) for name, where in HEADER_FIELDS.items()}
