"""DfE Common Transfer File (CTF XML): one record per pupil, with the file's header facts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import Extracted, FileDropConnector, Stream
from connectors.xml_stream import iter_elements, text, to_dict

SCHEMA = {
    "type": "object",
    "required": ["UPN"],
    "properties": {"UPN": {"type": ["string", "null"]}, "SchoolHistory": {}, "Header": {}},
}


class CommonTransferFileConnector(FileDropConnector):
    source = "education__ctf"
    agency = "education"
    description = "DfE Common Transfer File (XML) sent to the LA when a pupil leaves a school"
    patterns = ("*.xml", "*.XML")
    stream = Stream("pupils", primary_key=("UPN",), bookmark_field=None, schema=SCHEMA)

    def parse(self, path: Path) -> Iterator[Extracted]:
        header = _read_header(path)
        for ordinal, element, error in iter_elements(path, "Pupil"):
            position = f"{path.name} pupil {ordinal}"
            if element is None:
                yield Extracted(position, error=error or "unreadable pupil")
                return
            record = to_dict(element)
            record["Header"] = header
            if not record.get("UPN"):
                yield Extracted(position, error="pupil without a UPN", raw=json.dumps(record))
                continue
            yield Extracted(position, record=record)


def _read_header(path: Path) -> dict[str, Any]:
    for _ordinal, element, _error in iter_elements(path, "Header"):
        if element is None:
            break
        return {
            "source_lea": text(element, "SourceSchool/LEA"),
            "source_estab": text(element, "SourceSchool/Estab"),
            "source_school_name": text(element, "SourceSchool/SchoolName"),
            "dest_lea": text(element, "DestSchool/LEA"),
            "dest_estab": text(element, "DestSchool/Estab"),
            "created": text(element, "DateTime"),
        }
    return {}
