"""Bad input for the XML (CTF, CIN census), CSV and JSON-lines parsers.

Each kind of bad input gets an error item naming the file and the position, never a value from
the file; the item is kept (held as rejected by staging) and the rest of the batch goes on.
The property-based tests throw arbitrary bytes and damaged files at each parser.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Extracted, read_json_lines
from connectors.csv_rows import MAX_FIELD, count_records, read_csv_rows
from connectors.registry import CONNECTORS
from connectors.xml_stream import MAX_DEPTH as MAX_XML_DEPTH
from connectors.xml_stream import MAX_FIELD as MAX_XML_FIELD

SECRET = "Zebedee"  # a name planted in bad input: it must never reach an error message
CTF_PUPIL = (
    "<Pupil><UPN>{upn}</UPN><Surname>{surname}</Surname><Forename>Ann</Forename>"
    "<DOB>2015-01-02</DOB><Sex>F</Sex></Pupil>"
)
CTF = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<CTfile><Header><DateTime>2026-11-01T09:00:00'
    "</DateTime><SourceSchool><LEA>815</LEA><Estab>2001</Estab></SourceSchool></Header>"
    "<CTFpupilData>{pupils}</CTFpupilData></CTfile>"
)
CIN_CHILD = (
    "<Child><ChildIdentifiers><LAchildID>{lac}</LAchildID><PersonBirthDate>2015-01-02"
    "</PersonBirthDate><GenderCurrent>2</GenderCurrent></ChildIdentifiers></Child>"
)
CIN = '<?xml version="1.0"?><Message xmlns="http://www.dfe.gov.uk/CIN"><Children>{children}</Children></Message>'
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<CTfile><CTFpupilData><Pupil><UPN>&lol3;</UPN></Pupil></CTFpupilData></CTfile>"
)
XXE_PARAMETER = (
    '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/x.dtd">%ext;]>'
    "<Message><Children/></Message>"
)


def _ctf(n: int, surname: str = SECRET) -> str:
    pupils = "".join(CTF_PUPIL.format(upn=f"A{i:012d}", surname=surname) for i in range(n))
    return CTF.format(pupils=pupils)


def _read(source: str, path: Path) -> list[Extracted]:
    return list(CONNECTORS[source]({"path": str(path)}).read(path))


def _no_secret(items: list[Extracted]) -> None:
    for item in items:
        assert SECRET not in (item.error or ""), item.error
        assert SECRET not in item.position


# --- XML ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (BILLION_LAUGHS, "unsafe XML refused (DTD) at line 1"),
        (XXE_PARAMETER, "unsafe XML refused (DTD) at line 1"),
        ("", "empty file"),
        ("  \n", "empty file"),
        ("<CTfile><CTFpupilData><Pupil><UPN>A1</UPN>", "malformed XML at line 1 column 42"),
    ],
)
def test_xml_refusals_name_file_and_position(tmp_path: Path, payload: str, expected: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(payload, encoding="utf-8")
    (item,) = _read("education__ctf", path)
    assert item.record is None
    assert item.position == "bad.xml pupil 1"
    assert (item.error or "").startswith(expected)


def test_truncated_xml_keeps_the_records_before_the_break(tmp_path: Path) -> None:
    data = _ctf(5).encode()
    path = tmp_path / "cut.xml"
    path.write_bytes(data[: data.index(b"A000000000003") + 5])
    items = _read("education__ctf", path)
    assert [i.ok for i in items] == [True, True, True, False]
    assert items[3].position == "cut.xml pupil 4"
    assert "malformed XML at line 2" in (items[3].error or "")
    _no_secret(items)


def test_windows_1252_bytes_in_utf8_xml_are_named_by_position(tmp_path: Path) -> None:
    data = _ctf(3).replace(f"<Surname>{SECRET}</Surname>", "<Surname>Zo\xeb</Surname>", 1)
    path = tmp_path / "cp1252.xml"
    path.write_bytes(data.encode("cp1252"))
    items = _read("education__ctf", path)
    assert [i.ok for i in items] == [False, True, True]  # the two after the break are read
    assert items[0].position == "cp1252.xml pupil 1"
    assert "malformed XML at line 2" in (items[0].error or "")
    assert "invalid token" in (items[0].error or "")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        # a flipped byte inside the second pupil's element
        (
            lambda d: d.replace(b"<Forename>", b"<Forename\x01", 2).replace(
                b"<Forename\x01", b"<Forename>", 1
            ),
            [True, False, True, True, True],
        ),
        # the second pupil's start tag damaged: its orphan end tag still counts it
        (lambda d: _nth(d, b"<Pupil>", 2, b"<Pupim>"), [True, False, True, True, True]),
        # an end tag twice, a start tag twice: one item more each, the rest read
        (
            lambda d: _nth(d, b"</Pupil>", 1, b"</Pupil></Pupil>"),
            [True, False, True, True, True, True],
        ),
        (
            lambda d: _nth(d, b"<Pupil>", 3, b"<Pupil><Pupil>"),
            [True, True, False, True, True, True],
        ),
        # a quote opened in an attribute and never closed
        (lambda d: _nth(d, b"<UPN>", 4, b'<UPN a="'), [True, True, True, False, True]),
    ],
)
def test_xml_reader_resynchronises_after_a_break(
    tmp_path: Path, damage: object, expected: list[bool]
) -> None:
    """After a syntax error the reader parses on from the next record's start tag: each record
    lost is one error item, and the tags counted without the parser match what was read."""
    path = tmp_path / "broken.xml"
    path.write_bytes(damage(_ctf(5).encode()))  # type: ignore[operator]
    items = _read("education__ctf", path)
    assert [i.ok for i in items] == expected
    assert CONNECTORS["education__ctf"]({"path": str(path)}).count_records(path) == len(items)
    _no_secret(items)
    (lost,) = [i for i in items if not i.ok]
    assert "to the next record" in (lost.error or "")


def _nth(data: bytes, old: bytes, n: int, new: bytes) -> bytes:
    at = -1
    for _ in range(n):
        at = data.index(old, at + 1)
    return data[:at] + new + data[at + len(old) :]


def test_declared_windows_1252_and_utf16_with_bom_are_read(tmp_path: Path) -> None:
    declared = _ctf(2).replace('encoding="UTF-8"', 'encoding="windows-1252"')
    one = tmp_path / "declared.xml"
    one.write_bytes(declared.replace(SECRET, "Zo\xeb").encode("cp1252"))
    two = tmp_path / "utf16.xml"
    two.write_bytes(codecs.BOM_UTF16_LE + _ctf(2).replace("UTF-8", "UTF-16").encode("utf-16-le"))
    for path in (one, two):
        items = _read("education__ctf", path)
        assert [i.ok for i in items] == [True, True], path.name
    assert _read("education__ctf", one)[0].record["Surname"] == "Zo\xeb"  # type: ignore[index]


def test_oversized_xml_field_holds_that_record_only(tmp_path: Path) -> None:
    data = _ctf(3).replace(
        f"<Surname>{SECRET}</Surname>", "<Surname>" + "x" * 20_000 + "</Surname>", 1
    )
    path = tmp_path / "big.xml"
    path.write_text(data, encoding="utf-8")
    items = _read("education__ctf", path)
    assert [i.ok for i in items] == [False, True, True]
    assert items[0].error == f"field Surname longer than {MAX_XML_FIELD} characters"


def test_deeply_nested_xml_holds_that_record_only(tmp_path: Path) -> None:
    """Nesting past Python's recursion limit used to end the whole read in a RecursionError."""
    deep = "<Extra>" * 3000 + SECRET + "</Extra>" * 3000
    data = _ctf(3).replace("<Sex>F</Sex>", "<Sex>F</Sex>" + deep, 1)
    path = tmp_path / "deep.xml"
    path.write_text(data, encoding="utf-8")
    items = _read("education__ctf", path)
    assert [i.ok for i in items] == [False, True, True]
    assert items[0].position == "deep.xml pupil 1"
    assert items[0].error == f"elements nested more than {MAX_XML_DEPTH} deep"
    at_limit = "<Extra>" * (MAX_XML_DEPTH - 1) + "x" + "</Extra>" * (MAX_XML_DEPTH - 1)
    path.write_text(_ctf(1).replace("<Sex>F</Sex>", "<Sex>F</Sex>" + at_limit), encoding="utf-8")
    assert [i.ok for i in _read("education__ctf", path)] == [True]


def test_repeated_pupil_in_one_file_is_held(tmp_path: Path) -> None:
    pupils = CTF_PUPIL.format(upn="A1", surname=SECRET) * 2 + CTF_PUPIL.format(
        upn="A1", surname="Other"
    )
    path = tmp_path / "dup.xml"
    path.write_text(CTF.format(pupils=pupils), encoding="utf-8")
    items = _read("education__ctf", path)
    assert [i.error for i in items] == [
        None,
        "duplicate of dup.xml pupil 1 (same UPN)",
        "same UPN as dup.xml pupil 1 with different content",
    ]
    assert items[1].raw, "the held duplicate keeps its content"


def test_cin_census_with_default_namespace_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cin.xml"
    children = "".join(CIN_CHILD.format(lac=f"C{i}") for i in range(3))
    path.write_text(CIN.format(children=children), encoding="utf-8")
    items = _read("social_care__cin_census", path)
    assert [i.record["ChildIdentifiers"]["LAchildID"] for i in items if i.record] == [
        "C0",
        "C1",
        "C2",
    ]


xml_damage = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.integers(min_value=0, max_value=2000), st.binary(min_size=1, max_size=8)),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damage=xml_damage, source=st.sampled_from(["education__ctf", "social_care__cin_census"]))
def test_xml_parsers_survive_any_damage(tmp_path: Path, damage: object, source: str) -> None:
    """Arbitrary bytes, or a valid file with bytes overwritten, truncated or spliced: the
    parser yields records then at most one error, last, and never raises or leaks content."""
    original = (
        _ctf(4) if source == "education__ctf" else CIN.format(children=CIN_CHILD.format(lac=SECRET))
    ).encode()
    if isinstance(damage, bytes):
        data = damage
    else:
        at, junk = damage  # type: ignore[misc]
        at = at % (len(original) + 1)
        data = original[:at] + junk + original[at + len(junk) :]
    path = tmp_path / "fuzz.xml"
    path.write_bytes(data)
    connector = CONNECTORS[source]({"path": str(path)})
    items = list(connector.parse(path))
    assert all((item.record is None) != (item.error is None) for item in items)
    counted = connector.count_records(path)
    assert counted is not None
    assert len(items) == counted or (counted == 0 and len(items) <= 1)
    for item in items:
        assert item.position.startswith("fuzz.xml ")
        if item.error and "XML" in item.error:
            assert SECRET not in item.error


# --- CSV ------------------------------------------------------------------------------------


def _csv(tmp_path: Path, data: bytes, name: str = "reg.csv") -> list[Extracted]:
    path = tmp_path / name
    path.write_bytes(data)
    return list(read_csv_rows(path))


def test_csv_utf16_with_bom_is_a_clear_error(tmp_path: Path) -> None:
    data = codecs.BOM_UTF16_LE + f"ChildRef,Surname\r\nA1,{SECRET}\r\n".encode("utf-16-le")
    (item,) = _csv(tmp_path, data)
    assert (item.position, item.error) == (
        "reg.csv line 1",
        "UTF-16 text (byte-order mark); expected UTF-8",
    )


def test_csv_windows_1252_row_is_held_and_the_rest_go_on(tmp_path: Path) -> None:
    data = b"ChildRef,Surname\r\nA1,Zo\xeb\r\nA2,Ann\r\n"
    items = _csv(tmp_path, data)
    assert [(i.position, i.error) for i in items] == [
        ("reg.csv line 2", "not valid UTF-8 in column Surname"),
        ("reg.csv line 3", None),
    ]
    assert items[0].raw, "the unreadable row is kept"


@pytest.mark.parametrize(
    ("data", "position", "error"),
    [
        (
            b'ChildRef,Surname\r\nA1,"Zeb\r\n',
            "reg.csv line 2",
            "unreadable CSV row: unexpected end of data",
        ),
        (
            b"ChildRef,Surname\r\nA1,Ze\x00b\r\n",
            "reg.csv line 2",
            "unreadable CSV row: line contains NUL",
        ),
        (
            b"ChildRef,ChildRef\r\nA1,A2\r\n",
            "reg.csv line 2",
            "header repeats column(s) ChildRef; row not read",
        ),
        (b"ChildRef,ChildRef\r\n", "reg.csv line 1", "header repeats column(s) ChildRef"),
        (b"ChildRef,Surname\r\nA1\r\n", "reg.csv line 2", "1 fields where the header has 2"),
        (b"", "reg.csv line 1", "empty file"),
    ],
)
def test_csv_bad_input_names_the_line(
    tmp_path: Path, data: bytes, position: str, error: str
) -> None:
    items = _csv(tmp_path, data)
    assert (items[0].position, items[0].error) == (position, error)


def test_csv_open_quote_holds_one_line_and_reads_on(tmp_path: Path) -> None:
    rows = "".join(f"A{i},Name{i}\r\n" for i in range(30))
    data = ("ChildRef,Surname\r\n" + rows.replace("A2,", 'A2,"', 1)).encode()
    items = _csv(tmp_path, data)
    assert len(items) == 30  # every row accounted for: 29 read, the broken one held
    (held,) = [i for i in items if not i.ok]
    assert held.position == "reg.csv line 4"
    assert held.error == "unreadable CSV row: unexpected end of data; read again from line 5"
    assert count_records(tmp_path / "reg.csv") == 30


def test_csv_rows_spanning_lines_are_read_and_counted(tmp_path: Path) -> None:
    data = b'ChildRef,Address\r\nA1,"1 High St\r\nWhitby"\r\nA2,"x"y\r\nA3,ok\r\n'
    items = _csv(tmp_path, data)
    assert [(i.position, i.ok) for i in items] == [
        ("reg.csv line 2", True),
        ("reg.csv line 4", False),  # text after a closing quote: that row is held
        ("reg.csv line 5", True),
    ]
    assert items[0].record == {"ChildRef": "A1", "Address": "1 High St\r\nWhitby"}
    assert count_records(tmp_path / "reg.csv") == 3


def test_csv_oversized_field_is_held_and_the_next_row_read(tmp_path: Path) -> None:
    big = "x" * (MAX_FIELD + 5)
    data = f'ChildRef,Surname\r\nA1,"{big}"\r\nA2,{SECRET}\r\n'.encode()
    items = _csv(tmp_path, data)
    assert items[0].error == f"unreadable CSV row: a field longer than {MAX_FIELD} characters"
    assert items[-1].record == {"ChildRef": "A2", "Surname": SECRET}


def test_csv_repeated_child_is_held(tmp_path: Path) -> None:
    path = tmp_path / "reg.csv"
    path.write_bytes(b"ChildRef,Surname\r\nA1,Ann\r\nA1,Ann\r\nA2,Bo\r\n")
    items = _read("education__ehe_register", path)
    assert [i.error for i in items] == [None, "duplicate of reg.csv line 2 (same ChildRef)", None]


cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(cell, min_size=3, max_size=3), max_size=12))
def test_csv_round_trips_what_a_csv_writer_wrote(tmp_path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["a", "b", "c"])
    writer.writerows(rows)
    items = _csv(tmp_path, buffer.getvalue().encode("utf-8"))
    expected = [{k: (v.strip() or None) for k, v in zip("abc", row, strict=True)} for row in rows]
    assert [i.record for i in items] == expected
    assert count_records(tmp_path / "reg.csv") == len(rows)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_csv_reader_survives_any_bytes(tmp_path: Path, data: bytes) -> None:
    items = _csv(tmp_path, b"ChildRef,Surname\r\n" + data)
    counted = count_records(tmp_path / "reg.csv")
    assert len(items) == counted or (counted == 0 and len(items) <= 1)
    for item in items:
        assert (item.record is None) != (item.error is None)
        assert item.position.startswith("reg.csv line ")
        if item.record is not None:
            assert set(item.record) == {"ChildRef", "Surname"}


# --- JSON lines -----------------------------------------------------------------------------


def _lines(tmp_path: Path, data: bytes) -> list[Extracted]:
    path = tmp_path / "extract.jsonl"
    path.write_bytes(data)
    return list(read_json_lines(path))


def test_json_lines_bad_input_names_line_and_column(tmp_path: Path) -> None:
    data = (
        b'{"person_id": "P1"}\n'
        + f'{{"person_id": "P2", "surname": "{SECRET}"'.encode()
        + b"\n[1, 2]\n"
        + b'{"surname": "Zo\xeb"}\n'
        + b"\xff\xfe{\x00}\x00\n"
        + b'{"person_id": "P3"}\n'
    )
    items = _lines(tmp_path, data)
    assert [(i.position, i.error) for i in items] == [
        ("extract.jsonl line 1", None),
        ("extract.jsonl line 2", "not JSON: Expecting ',' delimiter at column 41"),
        ("extract.jsonl line 3", "not a JSON object"),
        ("extract.jsonl line 4", "not UTF-8 at byte 15"),
        ("extract.jsonl line 5", "not UTF-8 at byte 0"),
        ("extract.jsonl line 6", None),
    ]
    _no_secret(items)
    assert items[1].raw, "the unreadable line is kept"


def test_json_lines_oversized_and_deeply_nested(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"a": "' + b"x" * 5000 + b'"}\n' + b"[" * 100_000 + b"\n" + b'{"b": 1}\n')
    items = list(read_json_lines(path, max_line=4096))
    assert [i.error for i in items] == [
        "line longer than 4096 bytes",
        "line longer than 4096 bytes",
        None,
    ]
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(b"[" * 100_000 + b"\n")
    (item,) = read_json_lines(deep)
    assert item.error in ("JSON nested too deeply", "not a JSON object") or "not JSON" in (
        item.error or ""
    )


def test_json_lines_empty_file_yields_nothing(tmp_path: Path) -> None:
    assert _lines(tmp_path, b"") == []
    assert _lines(tmp_path, b"\n\n") == []


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(objects=st.lists(st.dictionaries(st.text(max_size=5), json_value, max_size=4), max_size=8))
def test_json_lines_round_trip(tmp_path: Path, objects: list[dict[str, object]]) -> None:
    data = "".join(json.dumps(o) + "\n" for o in objects).encode()
    assert [i.record for i in _lines(tmp_path, data)] == objects


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_json_lines_survive_any_bytes(tmp_path: Path, data: bytes) -> None:
    items = _lines(tmp_path, data)
    for item in items:
        assert (item.record is None) != (item.error is None)
        assert item.position.startswith("extract.jsonl line ")
        assert isinstance(item.record, dict) or item.error


def test_xml_with_an_unknown_declared_encoding_is_held_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "odd.xml"
    path.write_bytes(_ctf(3).replace('encoding="UTF-8"', 'encoding="ATF-8"').encode())
    items = _read("education__ctf", path)
    assert items and all(not i.ok for i in items)
    assert "unknown encoding" in (items[0].error or "")
