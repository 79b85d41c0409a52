"""Property-based tests of the HL7 parsers: whatever arrives, they never crash.

Arbitrary bytes, and messages built from arbitrary segments around a real MSH, become either a
record or an error item naming the file and message position; the listener's MSH reader either
reads a header or refuses with AR/AE and a reason.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.health.hl7v2_adt import Hl7AdtConnector, parse_adt, split_messages
from gateway.mllp.header import Refusal, acknowledgement, read_header

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MSH = "MSH|^~\\&|PAS|RCB|EHEGW|LA815|20261101090000||ADT^A28|C1|P|2.4"
field_text = st.text(alphabet=st.sampled_from("AZ09 ^~\\&|#\r\n\x0b\x1c\xe9"), max_size=30)
segment = st.builds(
    lambda name, fields: name + "|" + "|".join(fields),
    st.sampled_from(["PID", "PD1", "EVN", "MRG", "ZU1", "NK1", "MSH", "XYZ", "PI"]),
    st.lists(field_text, max_size=14),
)


@FAST
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    item = parse_adt(data, "feed.hl7 message 3")
    assert item.position == "feed.hl7 message 3"
    assert (item.record is None) != (item.error is None)


@FAST
@given(st.lists(segment, max_size=8), st.sampled_from(["2.3", "2.3.1", "2.4", "2.5", "2.9"]))
def test_arbitrary_segments_after_a_real_msh_never_crash(segments: list[str], version: str) -> None:
    message = "\r".join([MSH.replace("|2.4", f"|{version}"), *segments]).encode()
    item = parse_adt(message, "feed.hl7 message 1")
    if item.record is None:
        assert item.error and "feed.hl7 message 1" == item.position
        assert "TESTFAMILY" not in item.error
    else:
        assert item.record["MSH-10"] == [["C1"]] and item.record.get("PID-3")


@FAST
@given(st.binary(max_size=300) | st.lists(segment, max_size=6).map(lambda s: "\r".join(s).encode()))
def test_the_listener_reads_a_header_or_refuses_with_a_reason(data: bytes) -> None:
    try:
        header = read_header(data)
    except Refusal as refusal:
        assert refusal.code in ("AR", "AE") and refusal.reason
        ack = acknowledgement(refusal.header, refusal.code, refusal.reason)
    else:
        ack = acknowledgement(header, "AA")
    # The ACK answers in the sender's delimiters (HL7 allows others than `|`), never in
    # unprintable ones; with no usable MSH, in the standard ones.
    separator = ack[3:4]
    assert ack.startswith(b"MSH") and separator.decode().isprintable() and not separator.isspace()
    assert b"\rMSA" + separator in ack


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.binary(max_size=120), min_size=1, max_size=5), st.booleans())
def test_every_message_of_a_broken_file_is_an_item_with_its_position(
    tmp_path: Path, parts: list[bytes], framed: bool
) -> None:
    """A file of good and broken messages: each becomes an item named by file and number."""
    good = (MSH + "\rPID|1||L1^^^RCB^PI||TESTFAMILY^AMY||20150304|F").encode()
    messages = [good, *(b"MSH|" + p for p in parts)]
    if framed:
        data = b"".join(b"\x0b" + m + b"\x1c\r" for m in messages)
    else:
        data = b"\r\n".join(messages)
    path = tmp_path / "feed.hl7"
    path.write_bytes(data)
    items = list(Hl7AdtConnector({"path": str(path)}).parse(path))
    assert len(items) == len(split_messages(data)) >= 1
    assert [i.position for i in items] == [
        f"feed.hl7 message {n}" for n in range(1, len(items) + 1)
    ]
    assert items[0].record is not None
    for item in items:
        assert (item.record is None) != (item.error is None)


def test_a_control_character_as_a_delimiter_is_refused_and_answered_with_bars() -> None:
    """Found by the property above: NUL as MSH-1 was accepted and echoed into the ACK."""
    data = b"MSH\x00\x01\x02\x03\x04\x00\x00\x00\x00\x0020261205032231\x00\x00ADT\x01A01"
    try:
        header = read_header(data)
    except Refusal as refusal:
        ack = acknowledgement(refusal.header, refusal.code, refusal.reason)
    else:
        raise AssertionError(f"accepted with separator {header.separator!r}")
    assert ack.startswith(b"MSH|") and b"\rMSA|AR|" in ack
