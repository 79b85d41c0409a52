"""The connector contract, and bad input: every item is a record or an error, never lost."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, Extracted, Extraction, Stream
from connectors.registry import CONNECTORS
from gateway.sources import connector_for, source_names

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<CTfile><CTFpupilData><Pupil><UPN>&lol2;</UPN></Pupil></CTFpupilData></CTfile>
"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Message><Children><Child><ChildIdentifiers><LAchildID>&xxe;</LAchildID></ChildIdentifiers></Child></Children></Message>
"""


@pytest.mark.parametrize("source", source_names())
def test_contract_on_synthetic_files(source: str, inbox: Path, tmp_path: Path) -> None:
    connector: Connector = connector_for(source)
    assert connector.source == source
    streams = connector.discover()
    assert streams and streams[0].primary_key
    connector.check()
    extraction = connector.extract(tmp_path / "work", None)
    assert extraction.files, f"{source}: the synthetic inbox has files for every source"
    items = [item for path in extraction.files for item in connector.parse(path)]
    assert items
    for item in items:
        assert (item.record is None) != (item.error is None), item.position
        if item.record is not None:
            for required in streams[0].schema.get("required", []):
                assert required in item.record, f"{source}: {required} missing at {item.position}"
    assert len({item.position for item in items}) == len(items), "positions identify items"
    assert source not in repr(connector.config), "config is never shown"


def test_incremental_source_second_run_yields_nothing(inbox: Path, tmp_path: Path) -> None:
    connector = connector_for("social_care__case_db")
    first = connector.extract(tmp_path / "w", None)
    assert first.files and first.bookmark
    second = connector.extract(tmp_path / "w", first.bookmark)
    assert second.files == [] and second.bookmark == first.bookmark


def test_unreachable_database_is_retriable(tmp_path: Path) -> None:
    from gateway.errors import RetriableSourceError

    connector = CONNECTORS["social_care__case_db"](
        {"url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    with pytest.raises(RetriableSourceError):
        connector.extract(tmp_path, None)


@pytest.mark.parametrize(
    ("source", "payload"),
    [
        ("education__ctf", BILLION_LAUGHS),
        ("social_care__cin_census", XXE),
    ],
)
def test_entity_payloads_are_refused_not_expanded(
    source: str, payload: str, tmp_path: Path
) -> None:
    path = tmp_path / "evil.xml"
    path.write_text(payload)
    items = list(CONNECTORS[source]({"path": str(path)}).parse(path))
    assert len(items) == 1 and items[0].record is None
    assert "unsafe XML refused" in (items[0].error or "")
    assert "root:" not in items[0].raw


def test_truncated_xml_names_file_and_position(tmp_path: Path, inbox: Path) -> None:
    original = next((inbox / "education" / "ctf").glob("*.xml")).read_bytes()
    path = tmp_path / "truncated.xml"
    path.write_bytes(original[: len(original) // 2])
    items = list(CONNECTORS["education__ctf"]({"path": str(path)}).parse(path))
    good = [i for i in items if i.ok]
    bad = [i for i in items if not i.ok]
    assert good and len(bad) == 1
    assert bad[0].position.startswith("truncated.xml pupil")
    assert "malformed XML at line" in (bad[0].error or "")


def test_csv_bad_rows_are_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes(b"ChildRef,Forename\r\nA1,Ann\r\nA2\r\nA3,\xff\xfe\r\n\r\n")
    items = list(CONNECTORS["education__ehe_register"]({"path": str(path)}).parse(path))
    assert [i.ok for i in items[:3]] == [True, False, False]
    assert "fields where the header has 2" in (items[1].error or "")
    assert items[2].error == "not valid UTF-8 in column Forename"


def test_empty_files_yield_nothing_or_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.hl7"
    empty.write_bytes(b"")
    (item,) = CONNECTORS["health__hl7v2_adt"]({"path": str(empty)}).parse(empty)
    assert item.error == "no HL7 message in file"
    csv_empty = tmp_path / "empty.csv"
    csv_empty.write_bytes(b"")
    (item,) = CONNECTORS["education__ehe_register"]({"path": str(csv_empty)}).parse(csv_empty)
    assert (item.position, item.error) == ("empty.csv line 1", "empty file")


def test_fhir_errors_never_carry_values(tmp_path: Path) -> None:
    path = tmp_path / "p.ndjson"
    path.write_text('{"resourceType":"Patient","id":"x1","birthDate":"not-a-date-9434765919"}\n')
    (item,) = CONNECTORS["health__fhir_patient"]({"path": str(path)}).parse(path)
    assert item.record is None
    assert "birthDate" in (item.error or "")
    assert "9434765919" not in (item.error or "")


class _Listed(Connector):
    """A connector over a fixed list of (position, record): for Connector.read's repeat check."""

    source = "test__listed"
    agency = "test"
    description = "records given in code"
    stream = Stream("rows", primary_key=("id",), bookmark_field=None, schema={})

    def __init__(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__({})
        self.rows = rows

    def extract(self, work_dir: Path, bookmark: str | None) -> Extraction:
        return Extraction()

    def parse(self, path: Path) -> Iterator[Extracted]:
        for position, record in self.rows:
            yield Extracted(position, record=record)

    def check(self) -> None:
        return None


@pytest.mark.parametrize(
    "value",
    [
        {"nested": ["a", {"b": None}], "n": 1.5},  # plain parsed values
        {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},  # a type hashed by its repr
    ],
    ids=["plain", "datetime"],
)
def test_repeat_check_tells_duplicates_from_conflicts(value: dict[str, Any]) -> None:
    """Equal content (built separately, so no shared objects) is a duplicate; a changed nested
    value is a conflict; a position without a number still names the first as earlier."""
    changed = copy.deepcopy(value)
    first_key = next(iter(changed))
    changed[first_key] = "changed"
    rows = [
        ("f.xml row 7", {"id": "1", **value}),
        ("f.xml row 9", {"id": "1", **copy.deepcopy(value)}),
        ("f.xml row 10", {"id": "1", **changed}),
        ("f.xml row 11", {"id": "2", **changed}),
        ("header", {"id": "3", **value}),
        ("trailer", {"id": "3", **value}),
    ]
    items = list(_Listed(rows).read(Path("f.xml")))
    assert [i.error for i in items] == [
        None,
        "duplicate of f.xml row 7 (same id)",
        "same id as f.xml row 7 with different content",
        None,
        None,
        "duplicate of an earlier item (same id)",
    ]
    assert [i.position for i in items] == [position for position, _record in rows]
