"""SSDA903 looked-after children return: the header table (CSV) and the full return (XML).

The CSV return is a set of tables keyed by the LA's child id (CHILD). Only the header table
describes the child (sex, birth date, UPN); the other tables (episodes, reviews, missing,
UASC, OC2, ...) carry no birth date or sex, so a row of theirs cannot be told apart from another
child's on its own. Those files are landed and kept, recognised by their columns, and yield no
records. The XML return holds each child whole (header and episodes), so from it the child's
looked-after episodes come through too. Either way a record has the same shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import Extracted, FileDropConnector, Stream
from connectors.csv_rows import read_csv_rows
from connectors.xml_stream import as_list_of_dicts, count_records, xml_records

log = logging.getLogger(__name__)

HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
EPISODE_FIELDS = ("DECOM", "RNE", "LS", "CIN", "PL", "DEC", "REC", "REASON_PLACE_CHANGE")
# The columns that name each other table of the return, to recognise files we do not read.
OTHER_TABLES = {
    "episodes": {"CHILD", "DECOM", "RNE", "LS"},
    "reviews": {"CHILD", "REVIEW", "REVIEW_CODE"},
    "uasc": {"CHILD", "DUC"},
    "missing": {"CHILD", "MISSING", "MIS_START"},
    "oc2": {"CHILD", "SDQ_SCORE"},
    "oc3": {"CHILD", "IN_TOUCH", "ACTIV", "ACCOM"},
    "ad1": {"CHILD", "DATE_INT", "DATE_MATCH"},
    "placed_for_adoption": {"CHILD", "DATE_PLACED"},
    "previous_permanence": {"CHILD", "PREV_PERM"},
}
_TEXT = {"type": ["string", "null"]}
_EPISODE = {
    "type": "object",
    "properties": {name: _TEXT for name in EPISODE_FIELDS},
    "additionalProperties": _TEXT,
}
SCHEMA = {
    "type": "object",
    "required": ["CHILD", "SEX", "DOB", "episodes"],
    "properties": {
        "CHILD": {"type": "string", "minLength": 1},
        **{name: _TEXT for name in HEADER_COLUMNS[1:]},
        "episodes": {"type": "array", "items": _EPISODE},
    },
    "additionalProperties": _TEXT,
}


class Ssda903Connector(FileDropConnector):
    source = "social_care__ssda903"
    agency = "social_care"
    description = "SSDA903 looked-after children return (header table CSV, or the XML return)"
    patterns = ("*.csv", "*.xml", "*.XML")
    stream = Stream(
        "looked_after_children", primary_key=("CHILD",), bookmark_field=None, schema=SCHEMA
    )

    def count_records(self, path: Path) -> int | None:
        # The XML return: one record a child. CSV tables: only the header table is read.
        return count_records(path, "CHILD") if path.suffix.lower() == ".xml" else None

    def parse(self, path: Path) -> Iterator[Extracted]:
        if path.suffix.lower() == ".xml":
            yield from _xml_children(path)
        else:
            yield from _header_rows(path)


def table_of(columns: set[str]) -> str | None:
    """Which table of the return a CSV holds, from its columns (None: not SSDA903)."""
    if set(HEADER_COLUMNS[:3]) <= columns and "UPN" in columns:
        return "header"
    for name, needed in OTHER_TABLES.items():
        if needed <= columns:
            return name
    return None


def _header_rows(path: Path) -> Iterator[Extracted]:
    table: str | None = None
    for number, item in enumerate(read_csv_rows(path)):
        if number == 0 and item.record is not None:
            table = table_of(set(item.record))
            if table is None:
                yield Extracted(f"{path.name} header", error="not an SSDA903 table (columns)")
                return
            if table != "header":
                log.info("SSDA903 %s table in %s: kept, not read", table, path.name)
                return
        if item.record is None:
            yield item
            continue
        yield Extracted(item.position, record={**item.record, "episodes": []})


def _xml_children(path: Path) -> Iterator[Extracted]:
    for item in xml_records(path, "CHILD", "child"):
        if item.record is None:
            yield item
            continue
        header = item.record.get("HEADER")
        if not isinstance(header, dict) or not header.get("CHILDID"):
            yield Extracted(
                item.position, error="child without a CHILDID", raw=json.dumps(item.record)
            )
            continue
        record: dict[str, Any] = {
            "CHILD": header["CHILDID"],
            **{name: _leaf(header.get(name)) for name in HEADER_COLUMNS[1:]},
            "episodes": [
                {name: _leaf(ep.get(name)) for name in EPISODE_FIELDS}
                for ep in as_list_of_dicts(item.record.get("EPISODE"))
            ],
        }
        yield Extracted(item.position, record=record)


def _leaf(value: Any) -> str | None:
    return value if isinstance(value, str) else None
