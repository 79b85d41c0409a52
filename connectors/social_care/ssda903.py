"""SSDA903 looked-after children return: the header table (CSV) and the full return (XML).

The CSV return is a set of tables keyed by the LA's child id (CHILD), each recognised by its
columns (``TABLES``, from the DfE specification as the published validators read it). Only the
header table describes the child (sex, birth date, UPN); the other tables (episodes, reviews,
UASC, OC2, OC3, AD1, placed for adoption, previous permanence, missing, social worker episodes,
DoLo) say what happened to a child already described there, so a row of theirs is not a child
record on its own. Those files are landed and kept, recognised by their columns, counted as not
read with the table's name and row count (``not_read``: the batch's accounting shows them as
kept, not a child record), and yield no records. A CSV matching no table is refused with that
reason, row by row. The XML return holds each child whole (header and episodes), so from it
the child's looked-after episodes come through too. Either way a record has the same shape.

Counted without the reader (the ``records_counted_match`` gate): a CSV's data lines, an XML
return's CHILD tags.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import Extracted, FileDropConnector, Stream
from connectors.csv_rows import count_records as count_csv_rows
from connectors.csv_rows import read_csv_rows
from connectors.xml_stream import as_list_of_dicts, count_records, xml_records

log = logging.getLogger(__name__)

HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
EPISODE_FIELDS = ("DECOM", "RNE", "LS", "CIN", "PL", "DEC", "REC", "REASON_PLACE_CHANGE")
# The columns that name each table of the return (column names are matched in upper case).
# Tables are tried in this order and the first whose columns are all present wins: the
# header's columns are a subset of none of the others', and each other table has a column
# of its own (sources: DfE SSDA903 specification 2024-25 and 2025-26, as read by
# data-to-insight/csc-validator-be-903 lac_validator/config.py and liia-tools
# spec/s903/SSDA903_schema_2024.yml).
TABLES = {
    "header": {"CHILD", "SEX", "DOB", "UPN"},
    "episodes": {"CHILD", "DECOM", "RNE", "LS"},
    "reviews": {"CHILD", "REVIEW", "REVIEW_CODE"},
    "uasc": {"CHILD", "DUC"},
    "missing": {"CHILD", "MISSING", "MIS_START"},
    "oc2": {"CHILD", "SDQ_SCORE"},
    "oc3": {"CHILD", "IN_TOUCH", "ACTIV", "ACCOM"},
    "ad1": {"CHILD", "DATE_INT", "DATE_MATCH"},
    "placed_for_adoption": {"CHILD", "DATE_PLACED"},
    "previous_permanence": {"CHILD", "PREV_PERM"},
    "social_worker_episodes": {"CHILD", "SW_ID", "SW_DECOM"},
    "dolo": {"CHILD", "DOLO_START"},
}
# The one table whose rows are child records.
CHILD_TABLE = "header"
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
    """How the return is run (see ``Connector``'s attributes):

    - ``full_snapshot``: each delivery of the header table (or the XML return) is the whole
      collection year's looked-after children to date, as the annual return to the DfE is and
      as the weekly or monthly year-to-date extracts LAs run through the validators are; a
      child absent from one is not a change. So, like the CIN census, a delivery far from the
      last one in size is stopped by the row-count gate, and a later good one supersedes a
      gated one. Only deliveries with child records are compared or supersede: the other
      tables of the return, sent alongside, hold none (their rows are counted as not read).
    - ``stale_after_hours``: a weekly extract, late by more than a day past a week (as the CIN
      census). A deployment that receives only the annual return sets
      ``EHE_STALE_AFTER_HOURS_SOCIAL_CARE__SSDA903`` (e.g. 9000, a year and a few weeks).
    """

    source = "social_care__ssda903"
    agency = "social_care"
    schedule = "@weekly"
    full_snapshot = True
    stale_after_hours = 24.0 * 8
    inbox_folder = "social_care/ssda903"
    description = "SSDA903 looked-after children return (header table CSV, or the XML return)"
    patterns = ("*.csv", "*.xml", "*.XML")
    stream = Stream(
        "looked_after_children", primary_key=("CHILD",), bookmark_field=None, schema=SCHEMA
    )

    def count_records(self, path: Path) -> int | None:
        # The XML return: one record a child. A CSV table: its data lines (rows after the
        # header), each a child record, a row kept not read, or a row refused.
        if path.suffix.lower() == ".xml":
            return count_records(path, "CHILD")
        return count_csv_rows(path)

    def parse(self, path: Path) -> Iterator[Extracted]:
        self.not_read = Counter()
        if path.suffix.lower() == ".xml":
            yield from _xml_children(path)
        else:
            yield from _header_rows(path, self.not_read)


def table_of(columns: set[str]) -> str | None:
    """Which table of the return a CSV holds, from its columns (None: not SSDA903)."""
    names = {column.strip().upper() for column in columns}
    for table, needed in TABLES.items():
        if needed <= names:
            return table
    return None


def _header_rows(path: Path, not_read: Counter[str]) -> Iterator[Extracted]:
    """The header table's rows; another table's rows are counted in ``not_read`` by table."""
    rows = read_csv_rows(path)
    unreadable: list[Extracted] = []
    first = next(rows, None)
    while first is not None and first.record is None:  # no columns to judge by yet
        unreadable.append(first)
        first = next(rows, None)
    if first is None or first.record is None:
        yield from unreadable
        return
    table = table_of(set(first.record))
    if table is None:  # every row refused, so each is accounted for
        for item in itertools.chain(unreadable, [first], rows):
            raw = item.raw or json.dumps(item.record, default=str)
            yield Extracted(item.position, error="not an SSDA903 table (columns)", raw=raw)
        return
    if table != CHILD_TABLE:
        count = len(unreadable) + 1 + sum(1 for _ in rows)
        not_read[f"{table} table rows"] += count
        log.info(
            "SSDA903 %s table in %s: %d rows kept, not read (no child details in it)",
            table,
            path.name,
            count,
        )
        return
    for item in itertools.chain(unreadable, [first], rows):
        if item.record is None:
            yield item
            continue
        record = {name.strip().upper(): value for name, value in item.record.items()}
        yield Extracted(item.position, record={**record, "episodes": []})


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
