"""The HL7 connector's ER7 reader against hl7apy: the same fields, without hl7apy's cost.

The connector reads the fields the index needs straight from the ER7 text
(``connectors.health.hl7v2_er7``). These tests hold it to hl7apy: on generated messages
(versions 2.3 to 2.5.1, any legal encoding characters, repetitions, components,
subcomponents, blank and whitespace values, truncated segments, segments nobody reads) the
record equals what hl7apy's full ``parse_message`` gives for the same fields; and every text
escaped by hl7apy's own encoder comes back as it was.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Component, Field, is_base_datatype
from hl7apy.parser import parse_message
from hl7apy.v2_5 import ST
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from connectors.health.hl7v2_adt import (
    NEEDED_FIELDS,
    SUPPORTED_VERSIONS,
    count_messages,
    parse_adt,
    patient_groups,
    read_fields,
    read_message,
    segments_of,
)
from connectors.health.hl7v2_er7 import Encoding, read_field, unescape

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOLERANT = VALIDATION_LEVEL.TOLERANT
STANDARD = Encoding("|", "^", "~", "\\", "&")
# Delimiters senders really use besides the standard ones (any punctuation is legal).
DELIMITERS = "|^~\\&#$*@/!%+"


@st.composite
def encodings(draw: st.DrawFn) -> Encoding:
    if draw(st.booleans()):
        return STANDARD
    chars = draw(st.permutations(DELIMITERS))
    return Encoding(*chars[:5])


# -- hl7apy as the reference ---------------------------------------------------------------


def hl7apy_record(message: str) -> dict[str, Any]:
    """The needed fields as hl7apy's full parse gives them, brought to the record's form: a
    blank value is empty, trailing empty components and subcomponents go, subcomponents are
    joined with ``&``, escape sequences are decoded."""
    parsed = parse_message(message, validation_level=TOLERANT, find_groups=False)
    chars = parsed.encoding_chars
    encoding = Encoding(
        chars["FIELD"],
        chars["COMPONENT"],
        chars["REPETITION"],
        chars["ESCAPE"],
        chars["SUBCOMPONENT"],
    )
    record: dict[str, Any] = {"version": parsed.version}
    seen: set[str] = set()
    for segment in parsed.children:
        if segment.name not in NEEDED_FIELDS or segment.name in seen:
            continue
        seen.add(segment.name)
        for number in NEEDED_FIELDS[segment.name]:
            name = f"{segment.name}_{number}"
            reps = [
                _canonical(f.to_er7(chars), encoding) for f in segment.children if f.name == name
            ]
            if any(reps):
                record[f"{segment.name}-{number}"] = reps
    return record


def _canonical(er7: str, encoding: Encoding) -> list[str]:
    components = []
    for component in er7.split(encoding.component):
        subs = [
            "" if not s.strip() else unescape(s, encoding)
            for s in component.split(encoding.subcomponent)
        ]
        while subs and not subs[-1]:
            subs.pop()
        components.append("&".join(subs))
    while components and not components[-1]:
        components.pop()
    return components


@cache
def _children(version: str, name: str, kind: str) -> tuple[str, tuple[str, ...]] | None:
    """A field's or component's datatype in hl7apy's tables and its children's datatypes;
    None for a base datatype (its text is kept whole, however many separators it holds)."""
    element = (Field if kind == "field" else Component)(
        name, version=version, validation_level=TOLERANT
    )
    if element.datatype is None or is_base_datatype(element.datatype, version):
        return None
    refs = element.structure_by_name
    types = tuple(refs[f"{element.datatype}_{i}"]["ref"][2] for i in range(1, len(refs) + 1))
    return element.datatype, types


# -- generated messages --------------------------------------------------------------------

LEAF = st.text(alphabet="ABCXYZ019 .-'", max_size=6)


def _keeps_its_text(leaf: str) -> bool:
    """hl7apy turns number-typed values into Decimals (``007`` comes back ``7``); the reader
    keeps the text. Values where that shows are left to the explicit test below."""
    try:
        return str(Decimal(leaf)) == leaf
    except InvalidOperation:
        return True


@st.composite
def field_texts(draw: st.DrawFn, version: str, name: str, encoding: Encoding) -> str:
    """One field's ER7: repetitions of components of subcomponents, within the number of
    components and subcomponents hl7apy's tables define (past them hl7apy moves values)."""
    shape = _children(version, name, "field")
    reps = []
    for _ in range(draw(st.integers(1, 3))):
        limit = len(shape[1]) if shape else 4
        components = []
        for index in range(draw(st.integers(0, min(limit, 6)))):
            inner = _children(version, f"{shape[0]}_{index + 1}", "component") if shape else None
            sub_limit = len(inner[1]) if inner else 3
            subs = draw(st.lists(LEAF, min_size=1, max_size=min(sub_limit, 3)))
            assume(all(_keeps_its_text(s) for s in subs))
            components.append(encoding.subcomponent.join(subs))
        reps.append(encoding.component.join(components))
    return encoding.repetition.join(reps)


# From v2.6 some components are withdrawn (XTN-1; EVN-1 in v2.8) and hl7apy's tables skip
# their numbers, which this generator's shapes do not follow: generated messages are v2.3 to
# v2.5.1; the published v2.8 samples are compared below.
GENERATED_VERSIONS = SUPPORTED_VERSIONS[: SUPPORTED_VERSIONS.index("2.5.1") + 1]


@st.composite
def messages(draw: st.DrawFn) -> str:
    encoding = draw(encodings())
    version = draw(st.sampled_from(GENERATED_VERSIONS))
    f, c = encoding.field, encoding.component
    msh = [
        "MSH",
        encoding.component + encoding.repetition + encoding.escape + encoding.subcomponent,
        "PAS",
        "RCB",
        "EHEGW",
        "LA815",
        draw(st.sampled_from(["20261101090000", "202611010900", "20261101"])),
        "",
        f"ADT{c}{draw(st.sampled_from(['A28', 'A08', 'A40']))}",
        draw(st.text(alphabet="ABC0123456789", min_size=1, max_size=8)),
        "P",
        version,
    ]
    segments = [f.join(msh)]
    names = st.sampled_from(["EVN", "PID", "PD1", "MRG", "NK1", "PV1", "ZU1"])
    chosen = draw(st.lists(names, max_size=6))
    if draw(st.integers(0, 3)):  # most messages have a PID segment near the start
        chosen.insert(draw(st.integers(0, min(2, len(chosen)))), "PID")
    for segment in chosen:
        fields = [segment]
        needed = NEEDED_FIELDS.get(segment, ())
        for number in range(1, draw(st.integers(0, 14)) + 1):  # 0: a segment cut short
            if number in needed and _hl7apy_knows(version, f"{segment}-{number}"):
                fields.append(draw(field_texts(version, f"{segment}_{number}", encoding)))
            else:
                fields.append(draw(LEAF))
        segments.append(f.join(fields))
    return "\r".join(segments)


def _hl7apy_knows(version: str, field: str) -> bool:
    """EVN-1 (the event type code) was withdrawn in v2.8: hl7apy's 2.8 tables have no EVN_1."""
    return not (field == "EVN-1" and version.startswith("2.8"))


def _as_hl7apy_reads(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if _hl7apy_knows(record["version"], k)}


@SETTINGS
@given(messages())
def test_the_record_is_what_hl7apys_full_parse_gives(message: str) -> None:
    expected = hl7apy_record(message)
    assert _as_hl7apy_reads(read_fields(segments_of(message))) == expected
    item = parse_adt(message.encode(), "feed.hl7 message 1")
    merge = expected["MSH-9"][0][1] == "A40"
    groups = patient_groups(segments_of(message), "A40" if merge else "")
    if len(groups) > 1:  # an A40 of several patients: one item each, read group by group
        items = read_message(message.encode(), "feed.hl7 message 1")
        assert len(items) == len(groups) == count_messages(message.encode())
        for number, (group, each) in enumerate(zip(groups, items, strict=True), start=1):
            assert each.position == f"feed.hl7 message 1 patient group {number}"
            if each.record is not None:
                assert each.record["PID-3"] == read_fields(group)["PID-3"]
                assert each.record["patient_group"] == number
        return
    if expected.get("PID-3") and expected.get("MSH-10") and (expected.get("MRG-1") or not merge):
        assert item.record is not None
        record = dict(item.record)
        assert record.pop("event_class") == ("merge" if merge else "update")
        assert record.pop("patient_group") == 1, "one patient group: every key part present"
        if not merge:  # MRG-1 is kept only where a merge retires the record it names
            expected.pop("MRG-1", None)
        assert _as_hl7apy_reads(record) == expected
    else:  # only the acceptance rule's own checks refuse a message hl7apy reads
        assert item.record is None
        assert item.error in (
            "ADT message without a PID segment",
            "ADT message without PID-3 patient identifiers",
            "no message control id (MSH-10)",
            "A40 merge without MRG-1 (the prior patient identifiers)",
        )


# -- escape sequences ----------------------------------------------------------------------

TEXT = st.text(alphabet="AZ az09 '.-" + DELIMITERS, min_size=1, max_size=20)


@SETTINGS
@given(TEXT, encodings())
def test_a_value_escaped_by_hl7apys_encoder_reads_back_as_it_was(
    text: str, encoding: Encoding
) -> None:
    """Names like ``SMITH & JONES`` or ``O|BRIEN`` travel escaped (``\\T\\``, ``\\F\\``...)."""
    e = re.escape(encoding.escape)
    # hl7apy's encoder leaves text that already looks like an escape sequence alone.
    assume(not re.search(f"{e}[HNFSTRE]|[HNFSTRE]{e}", text) and text.strip())
    escaped = ST(text).to_er7(encoding.hl7apy_chars())
    assert read_field(escaped, encoding) == [[text]]
    msh = f"MSH{encoding.field}{encoding.component}{encoding.repetition}{encoding.escape}"
    message = encoding.field.join(
        [
            msh + encoding.subcomponent,
            *("PAS", "RCB", "", "", "2026", "", f"ADT{encoding.component}A28", "C1", "P", "2.4"),
        ]
    )
    pid = encoding.field.join(["PID", "1", "", "L1", "", escaped, "", "20150304"])
    record = parse_adt(f"{message}\r{pid}".encode(), "m").record
    assert record is not None and record["PID-5"] == [[text]]
    assert hl7apy_record(f"{message}\r{pid}")["PID-5"] == [[text]]


@pytest.mark.parametrize(
    ("er7", "text"),
    [
        ("SMITH\\T\\JONES", "SMITH&JONES"),
        ("A\\F\\B\\S\\C\\R\\D\\E\\E", "A|B^C~D\\E"),
        ("\\X4F\\'NEIL", "O'NEIL"),
        ("REN\\XC3A9\\", "RENé"),  # UTF-8 bytes in hex
        ("\\H\\SMITH\\N\\", "SMITH"),  # highlighting on and off: no text
        ("LINE 1\\.br\\LINE 2", "LINE 1\nLINE 2"),
        ("\\C2842\\SMITH", "SMITH"),  # a character set switch: no text
        ("A\\B", "A\\B"),  # no closing escape: kept as it is
        ("A\\Zlocal\\B", "A\\Zlocal\\B"),  # a local sequence we cannot interpret: kept
        ("\\X4\\", "\\X4\\"),  # half a byte: kept
    ],
)
def test_escape_sequences_decode_as_the_standard_says(er7: str, text: str) -> None:
    assert unescape(er7, STANDARD) == text
    assert read_field(er7, STANDARD) == [[text]]


def test_escapes_use_the_messages_own_escape_character() -> None:
    odd = Encoding("#", "$", "*", "/", "@")
    assert read_field("O/T/BRIEN$AMY/S/JO*X/E/Y\\Z", odd) == [["O@BRIEN", "AMY$JO"], ["X/Y\\Z"]]


# -- repetitions, blanks, truncation, odd encodings -----------------------------------------


def test_repetitions_components_and_subcomponents() -> None:
    assert read_field("L1^^^RCB^PI~9990000018^^^NHS^NH", STANDARD) == [
        ["L1", "", "", "RCB", "PI"],
        ["9990000018", "", "", "NHS", "NH"],
    ]
    assert read_field("L1^^^RCB&1.2.3&ISO&&^PI", STANDARD) == [
        ["L1", "", "", "RCB&1.2.3&ISO", "PI"]
    ]
    assert read_field("A^ ^B^^ ~~", STANDARD) == [["A", "", "B"], [], []]
    assert read_field(" ^^ ~", STANDARD) == []  # nothing in it: the field is absent


def test_values_keep_their_text_and_position_where_hl7apy_changes_them() -> None:
    """hl7apy turns PD1-3's XON.3 (NM in 2.3 to 2.5) into a Decimal, losing leading zeros,
    and moves a component past the datatype's last to just after it."""
    practice = "MALTON PRACTICE^^00123"
    assert read_field(practice, STANDARD) == [["MALTON PRACTICE", "", "00123"]]
    message = f"MSH|^~\\&|A|B|C|D|2026||ADT^A28|C1|P|2.4\rPD1|||{practice}"
    assert hl7apy_record(message)["PD1-3"] == [["MALTON PRACTICE", "", "123"]]
    far = "F" + "^" * 19 + "LAST"  # component 20 of PID-5; XPN has 11 in 2.4
    assert read_field(far, STANDARD)[0][19] == "LAST"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"MSH|^~\\&|A|B|C|D|2026||ADT^A28|C1|P|2.4\rPID|1|", "without PID-3"),
        (b"MSH|^~\\&|A|B|C|D|2026||ADT^A28|C1|P|2.4\rPID", "without PID-3"),
        (b"MSH|^~\\&|A|B|C|D|2026||ADT^A28|C1|P|2.4\rPID|1||^^~", "without PID-3"),
        (b"MSH|^~\\&|A|B|C|D|2026||ADT^A28|C1|P|2.4\rPIDX|1||L1", "without a PID segment"),
        (b"MSH|^~\\&|A|B|C|D|2026||ADT^A28|C1\rPID|1||L1", "version not supported"),
        (b"MSH|^~\\&|A|B|C|D|2026||ADT^A28||P|2.5.1\rPID|1||L1", "no message control id"),
        (b"MSH|^~\\&|A|B|C|D|2026||ADT^A28|C1|P|2.9\rPID|1||L1", "version not supported"),
        (b"MSH|^~", "does not start with an MSH segment"),
        (b"MSHA^~\\&|A\rPID|1||L1", "does not start with an MSH segment"),
        (b"MSH|^^\\&|A|B|C|D|2026||ADT^A28|C1|P|2.4\rPID|1||L1", "bad encoding characters"),
    ],
)
def test_truncated_and_malformed_messages_say_why(message: bytes, error: str) -> None:
    item = parse_adt(message, "feed.hl7 message 2")
    assert item.record is None and item.error is not None and error in item.error


def test_a_message_with_an_odd_field_separator_reads_and_splits_from_its_neighbours() -> None:
    from connectors.health.hl7v2_adt import split_messages

    odd = b"MSH#$*/@#PAS#RCB#E#L#2026##ADT$A28#C1#P#2.5.1\rPID#1##L1$$$RCB$PI*4/T/2"
    plain = b"MSH|^~\\&|PAS|RCB|E|L|2026||ADT^A28|C2|P|2.3\rPID|1||L2"
    chunks = split_messages(odd + b"\r\n" + plain)
    assert len(chunks) == 2
    record = parse_adt(chunks[0], "m").record
    assert record is not None
    assert record["PID-3"] == [["L1", "", "", "RCB", "PI"], ["4@2"]]
    assert record["MSH-9"] == [["ADT", "A28"]] and record["version"] == "2.5.1"


@SETTINGS
@given(
    st.dates().map(lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}")
    | st.text(alphabet="0123456789", min_size=8, max_size=14)
)
def test_hl7_dates_read_as_strptime_reads_them(text: str) -> None:
    """``hl7_date`` reads YYYYMMDD without strptime (a tenth of staging's time); same dates."""
    from datetime import datetime

    from gateway.mapping.transforms import MappingValueError, hl7_date

    try:
        expected = datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        with pytest.raises(MappingValueError):
            hl7_date([[text]])
    else:
        assert hl7_date([[text]]) == expected


def test_every_published_sample_reads_as_hl7apys_full_parse_reads_it(samples: Path) -> None:
    """The NHS ITK examples and the other real samples: the same record as hl7apy gives."""
    from connectors.health.hl7v2_adt import split_messages

    compared = 0
    for path in sorted((samples / "hl7v2").rglob("*.hl7")):
        for chunk in split_messages(path.read_bytes()):
            segments = segments_of(chunk.decode("utf-8-sig"))
            record = _as_hl7apy_reads(read_fields(segments))
            assert record == hl7apy_record("\r".join(segments)), path.name
            compared += 1
    assert compared == 20  # every published sample, v2.3 to v2.8
