"""MLLP by the book: framing (on bytes, then over real TCP), torn frames, control ids reused with
other content, the idle timeout and the connection limit.

HL7 MLLP Release 2: a start block (0x0B) always starts a new block; the receiver discards an
incomplete block and acknowledges nothing for it, so the sender, seeing no ACK, sends again.
The listener keeps what it discards in ``errors/`` (code ``discarded``) with the reason.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_mllp import adt, listener, stored

from gateway.mllp.client import MllpClient, ack_fields
from gateway.mllp.framing import OUTSIDE_A_FRAME, TORN_BY_START, Fragment, Frame, Framer
from gateway.mllp.server import CONFLICT, ListenerLimits
from gateway.mllp.store import MessageStore

SB, EB = b"\x0b", b"\x1c\r"


def feed_in_pieces(data: bytes, cuts: list[int], max_bytes: int = 1 << 20) -> list[object]:
    framer = Framer(max_bytes)
    out: list[object] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        out += framer.feed(data[start:cut])
        start = cut
    return out + framer.close("the connection closed")


# -- framing on bytes ------------------------------------------------------------------------


def test_a_start_block_before_the_end_block_tears_the_frame_and_starts_a_new_one() -> None:
    data = SB + b"MSH|first, cut short" + SB + b"MSH|second" + EB
    assert feed_in_pieces(data, []) == [
        Fragment(b"MSH|first, cut short", TORN_BY_START),
        Frame(b"MSH|second"),
    ]


def test_what_the_connection_closes_on_is_torn_and_bytes_outside_frames_are_kept() -> None:
    data = b"\r\n" + SB + b"MSH|one" + EB + b"\r\nnoise" + SB + b"MSH|two" + EB + SB + b"MSH|th"
    assert feed_in_pieces(data, []) == [
        Frame(b"MSH|one"),
        Fragment(b"\r\nnoise", OUTSIDE_A_FRAME),  # CR/LF alone between frames is not kept
        Frame(b"MSH|two"),
        Fragment(b"MSH|th", "torn frame: the connection closed before its end block"),
    ]


def test_an_oversized_frame_keeps_its_head_and_the_next_frame_is_read() -> None:
    data = SB + b"X" * 250 + EB + SB + b"MSH|ok" + EB + SB + b"Y" * 250 + SB + b"MSH|ok2" + EB
    assert feed_in_pieces(data, list(range(0, len(data), 7)), max_bytes=100) == [
        Frame(b"X" * 100, oversized=True),
        Frame(b"MSH|ok"),
        Fragment(b"Y" * 100, TORN_BY_START),
        Frame(b"MSH|ok2"),
    ]


payload = st.binary(max_size=60).map(lambda b: b.replace(SB, b"").replace(b"\x1c", b""))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(payload, st.booleans()), max_size=8),
    st.lists(st.integers(0, 600), max_size=12),
)
def test_however_the_stream_is_cut_every_frame_and_every_torn_frame_comes_out_in_order(
    parts: list[tuple[bytes, bool]], cuts: list[int]
) -> None:
    """Complete frames come out whole, torn ones (no end block before the next start block or
    the end of the stream) as fragments; however TCP splits the bytes, the result is the same."""
    data = b"".join(SB + body + (EB if whole else b"") for body, whole in parts)
    expected: list[object] = []
    for number, (body, whole) in enumerate(parts):
        if whole:
            expected.append(Frame(body))
        elif number == len(parts) - 1:
            expected.append(
                Fragment(body, "torn frame: the connection closed before its end block")
            )
        else:
            expected.append(Fragment(body, TORN_BY_START))
    assert feed_in_pieces(data, [c for c in cuts if c < len(data)]) == expected


# -- over TCP --------------------------------------------------------------------------------


def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait for the listener's side of a connection to finish (closing is asynchronous)."""
    deadline = time.monotonic() + 20
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def discarded(store: MessageStore) -> list[dict[str, object]]:
    return [n for n in store.errors() if n["code"] == "discarded"]


def test_a_torn_frame_is_kept_unanswered_and_the_next_frame_is_answered_on_its_own(
    tmp_path: Path,
) -> None:
    torn = adt("T-1", "L1")[:60]
    second = adt("T-2", "L2")
    with listener(tmp_path) as (port, store), MllpClient("127.0.0.1", port) as client:
        client.sock.sendall(SB + torn)
        assert ack_fields(client.send(second))[:2] == ("AA", "T-2")
        # exactly one ACK came for the two blocks: the next ACK answers the next message
        assert ack_fields(client.send(adt("T-3", "L3")))[:2] == ("AA", "T-3")
        assert client._buffer == b""
        (note,) = store.errors()
    assert (note["code"], note["reason"]) == ("discarded", TORN_BY_START)
    assert (tmp_path / "errors" / str(note["file"])).read_bytes() == torn
    assert stored(tmp_path) == [second, adt("T-3", "L3")]


def test_a_frame_the_connection_closes_on_is_kept_unanswered(tmp_path: Path) -> None:
    with listener(tmp_path) as (port, store):
        with MllpClient("127.0.0.1", port) as client:
            assert ack_fields(client.send(adt("C-1", "L1")))[0] == "AA"
            client.sock.sendall(SB + adt("C-2", "L2")[:50])
        eventually(lambda: bool(discarded(store)), "the torn frame kept")
        (note,) = discarded(store)
    assert note["reason"] == "torn frame: the connection closed before its end block"
    assert (tmp_path / "errors" / str(note["file"])).read_bytes() == adt("C-2", "L2")[:50]
    assert stored(tmp_path) == [adt("C-1", "L1")]


def test_a_control_id_reused_with_other_content_is_answered_ae_and_both_are_kept(
    tmp_path: Path,
) -> None:
    first = adt("R-1", "L1", given="AMY")
    other = adt("R-1", "L1", given="AMIE")
    with listener(tmp_path) as (port, store), MllpClient("127.0.0.1", port) as client:
        assert ack_fields(client.send(first))[:2] == ("AA", "R-1")
        ack = client.send(other)
        assert ack_fields(client.send(first))[:2] == ("AA", "R-1")  # an exact resend: AA
    code, control, reason = ack_fields(ack)
    assert (code, control, reason) == ("AE", "R-1", CONFLICT)
    (err,) = [s for s in ack.decode().split("\r") if s.startswith("ERR")]
    assert "205^Duplicate key identifier^HL70357" in err.replace("&", "^")
    assert "AMIE" not in ack.decode() and "TESTFAMILY" not in ack.decode()
    (note,) = store.errors()
    assert note["code"] == "AE"
    assert (tmp_path / "errors" / str(note["file"])).read_bytes() == other
    assert (tmp_path / "errors" / str(note["first_file"])).read_bytes() == first
    # after a restart the first content, now sealed, still holds its control id
    with listener(tmp_path) as (port, store), MllpClient("127.0.0.1", port) as client:
        assert ack_fields(client.send(other))[0] == "AE"
        assert ack_fields(client.send(first))[0] == "AA"
    assert stored(tmp_path) == [first]
    assert len(MessageStore(tmp_path).errors()) == 2


def test_an_idle_connection_is_closed_and_its_torn_frame_kept(tmp_path: Path) -> None:
    limits = ListenerLimits(idle_timeout_s=0.2, max_connections=4)
    with listener(tmp_path, limits) as (port, store):
        with socket.create_connection(("127.0.0.1", port), timeout=20) as quiet:
            assert quiet.recv(100) == b""  # closed by the listener, nothing sent either way
        with MllpClient("127.0.0.1", port, timeout=20) as client:
            assert ack_fields(client.send(adt("I-1", "L1")))[0] == "AA"
            client.sock.sendall(SB + b"MSH|^~\\&|PAS")
            assert client.sock.recv(100) == b""
        eventually(lambda: bool(discarded(store)), "the torn frame kept")
        (note,) = discarded(store)
    assert note["reason"] == "torn frame: idle timeout before its end block"
    assert stored(tmp_path) == [adt("I-1", "L1")]


def test_a_connection_over_the_limit_is_closed_with_a_log_line_of_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.mllp.server")
    limits = ListenerLimits(idle_timeout_s=0, max_connections=2)
    with listener(tmp_path, limits) as (port, _):
        first = MllpClient("127.0.0.1", port, timeout=20)
        with MllpClient("127.0.0.1", port, timeout=20) as second:
            for n, client in enumerate((first, second)):
                assert ack_fields(client.send(adt(f"N-{n}", f"L{n}")))[0] == "AA"
            with MllpClient("127.0.0.1", port, timeout=20) as third:
                with pytest.raises(ConnectionError):
                    third.send(adt("N-3", "L3"))
            first.close()

            def a_new_connection_is_served() -> bool:
                try:
                    with MllpClient("127.0.0.1", port, timeout=20) as again:
                        return ack_fields(again.send(adt("N-4", "L4")))[0] == "AA"
                except ConnectionError:
                    return False

            eventually(a_new_connection_is_served, "a connection served once one closed")
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused and refused[0] == "connection refused: 2 of 2 connections open"
    assert stored(tmp_path) == [adt("N-0", "L0"), adt("N-1", "L1"), adt("N-4", "L4")]


def test_limits_come_from_the_environment_with_documented_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ListenerLimits.from_env() == ListenerLimits(600.0, 32)
    monkeypatch.setenv("EHE_MLLP_IDLE_TIMEOUT_S", "30")
    monkeypatch.setenv("EHE_MLLP_MAX_CONNECTIONS", "4")
    assert ListenerLimits.from_env() == ListenerLimits(30.0, 4)
    assert ListenerLimits.from_env(idle_timeout_s=0) == ListenerLimits(0, 4)
    with pytest.raises(ValueError, match="connections at least 1"):
        ListenerLimits.from_env(max_connections=0)
