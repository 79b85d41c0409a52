"""DfE Children in Need census (XML): one record per child, with referrals and plans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from connectors.base import Extracted, FileDropConnector, Stream
from connectors.xml_stream import iter_elements, to_dict

SCHEMA = {"type": "object", "required": ["ChildIdentifiers"]}


class CinCensusConnector(FileDropConnector):
    source = "social_care__cin_census"
    agency = "social_care"
    description = "DfE Children in Need census return (XML)"
    patterns = ("*.xml", "*.XML")
    stream = Stream("children", primary_key=("LAchildID",), bookmark_field=None, schema=SCHEMA)

    def parse(self, path: Path) -> Iterator[Extracted]:
        for ordinal, element, error in iter_elements(path, "Child"):
            position = f"{path.name} child {ordinal}"
            if element is None:
                yield Extracted(position, error=error or "unreadable child")
                return
            record = to_dict(element)
            identifiers = record.get("ChildIdentifiers")
            if not isinstance(identifiers, dict) or not identifiers.get("LAchildID"):
                yield Extracted(
                    position, error="child without an LAchildID", raw=json.dumps(record)
                )
                continue
            yield Extracted(position, record=record)
