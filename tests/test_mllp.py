"""The MLLP listener over real TCP: ACK codes and control ids, the error store, duplicates,
durability across a kill, and messages flowing on into the index (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from stdnum.gb import nhs

from connectors.health.hl7v2_adt import MLLP_START
from gateway.mllp import MessageStore
from gateway.mllp.client import MllpClient, ack_fields
from gateway.mllp.server import ListenerLimits, serve
from gateway.mllp.store import JOURNAL, read_frames
from gateway.pipeline import ingest, link_children
from gateway.store.engine import session_factory
from gateway.store.tables import Link, SourceRecord

SOURCE = "health__hl7v2_adt"


def nhs_number(serial: int) -> str:
    """A valid NHS number in the synthetic 999 range."""
    for tail in range(serial * 10, serial * 10 + 10):
        candidate = f"999{tail:07d}"
        if nhs.is_valid(candidate):
            return candidate
    return nhs_number(serial + 1000)


def adt(
    control: str,
    local_id: str,
    *,
    nhs_no: str | None = None,
    itk: bool = False,
    event: str = "A28",
    version: str = "2.4",
    family: str = "TESTFAMILY",
    given: str = "AMY",
    merged_from: str | None = None,
) -> bytes:
    """An ADT message; ``itk`` writes the NHS number the ITK way (n^^^NHS, no NH type code)
    and adds a ZU segment."""
    pid3 = f"{local_id}^^^RCB^PI"
    if nhs_no:
        pid3 += f"~{nhs_no}^^^NHS" if itk else f"~{nhs_no}^^^NHS^NH"
    segments = [
        f"MSH|^~\\&|PAS|RCB|EHEGW|LA815|20261101090000||ADT^{event}|{control}|P|{version}",
        f"EVN|{event}|20261101085900",
        f"PID|1||{pid3}||{family}^{given}||20150304|F|||1 HIGH STREET^^MALTON^^YO17 7AA^GBR^H",
        "PD1|||MALTON PRACTICE^^B82001",
    ]
    if merged_from:
        segments.append(f"MRG|{merged_from}^^^RCB^PI")
    if itk:
        segments.append("ZU1|20261101|Y|")
    return "\r".join(segments).encode()


@contextmanager
def listener(
    root: Path, limits: ListenerLimits | None = None
) -> Iterator[tuple[int, MessageStore]]:
    """The listener on an ephemeral port, in its own event loop thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    store = MessageStore(root)
    started = serve(store, "127.0.0.1", 0, limits)
    server, _ = asyncio.run_coroutine_threadsafe(started, loop).result(10)
    try:
        yield server.sockets[0].getsockname()[1], store
    finally:

        async def stop() -> None:
            server.close()
            store.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def stored(root: Path) -> list[bytes]:
    return list(MessageStore(root).stored_messages())


def test_messages_are_acked_aa_with_their_control_ids(tmp_path: Path) -> None:
    """Versions 2.3 to 2.5 (the rest of 2.3 to 2.8 in test_hl7_accept), NHS number with and
    without the NH type code, ZU segments."""
    messages = [
        adt("C-23", "L1", nhs_no=nhs_number(1), version="2.3"),
        adt("C-231", "L2", nhs_no=nhs_number(2), version="2.3.1", event="A04"),
        adt("C-24", "L3", nhs_no=nhs_number(3), itk=True, event="A08"),
        adt("C-25", "L4", version="2.5", event="A31"),
    ]
    with listener(tmp_path) as (port, _), MllpClient("127.0.0.1", port) as client:
        acks = [client.send(m) for m in messages]
    assert [ack_fields(a)[:2] for a in acks] == [
        ("AA", "C-23"),
        ("AA", "C-231"),
        ("AA", "C-24"),
        ("AA", "C-25"),
    ]
    msh = acks[2].decode().split("\r")[0].split("|")
    assert msh[2:6] == ["EHEGW", "LA815", "PAS", "RCB"]  # answered to the sender
    assert msh[8] == "ACK^A08^ACK"
    assert stored(tmp_path) == messages  # byte-exact, in order


BAD = [  # what, message, MSA-1, MSA-2, the HL7 error condition code (table 0357) in ERR
    ("not HL7", b"hello", "AR", "", 100),
    ("version 2.9", adt("B-1", "L1", version="2.9"), "AR", "B-1", 203),
    ("not ADT", adt("B-2", "L1").replace(b"ADT^A28", b"ORU^R01"), "AR", "B-2", 200),
    ("no control id", adt("", "L1"), "AR", "", 101),
    ("not UTF-8", adt("B-3", "L1", family="M\xdcLLER").decode().encode("latin-1"), "AR", "", 102),
    (
        "no PID",
        b"MSH|^~\\&|PAS|RCB|EHEGW|LA815|2026||ADT^A28|B-4|P|2.5\rEVN|A28|2026",
        "AE",
        "B-4",
        100,
    ),
    ("no PID-3", adt("B-5", "L1").replace(b"L1^^^RCB^PI", b""), "AE", "B-5", 101),
    ("A40 without MRG", adt("B-6", "L1", event="A40"), "AE", "B-6", 101),
]


def err_code(ack: bytes) -> int:
    """The condition code in ERR: ERR-1 (ELD, v2.3 and 2.4) or ERR-3 (v2.5)."""
    (err,) = [s for s in ack.decode().split("\r") if s.startswith("ERR")]
    fields = err.split("|")
    code = fields[3].split("^")[0] if len(fields) > 3 else fields[1].split("^")[3].split("&")[0]
    return int(code)


def test_bad_messages_get_ar_or_ae_with_a_reason_and_are_kept(tmp_path: Path) -> None:
    with listener(tmp_path) as (port, store), MllpClient("127.0.0.1", port) as client:
        acks = [client.send(message) for _, message, _, _, _ in BAD]
        # a bad message does not stop the connection: the next good one is accepted
        assert ack_fields(client.send(adt("G-1", "L9")))[0] == "AA"
    for (what, _, code, control, error), ack in zip(BAD, acks, strict=True):
        got_code, got_control, reason = ack_fields(ack)
        assert (got_code, got_control, err_code(ack)) == (code, control, error), what
        assert reason, what
        assert "TESTFAMILY" not in reason and "L1" not in reason  # no personal data
    kept = sorted((tmp_path / "errors").glob("*.hl7"))
    assert sorted(p.read_bytes() for p in kept) == sorted(m for _, m, _, _, _ in BAD)
    notes = store.errors()
    assert [n["code"] for n in notes] == [code for _, _, code, _, _ in BAD]
    assert stored(tmp_path) == [adt("G-1", "L9")]


def test_a_duplicate_is_acked_but_stored_once_even_after_a_restart(tmp_path: Path) -> None:
    first = adt("D-1", "L1", nhs_no=nhs_number(5))
    with listener(tmp_path) as (port, _), MllpClient("127.0.0.1", port) as client:
        assert ack_fields(client.send(first))[:2] == ("AA", "D-1")
        assert ack_fields(client.send(first))[:2] == ("AA", "D-1")
    with listener(tmp_path) as (port, _), MllpClient("127.0.0.1", port) as client:
        assert ack_fields(client.send(first))[:2] == ("AA", "D-1")
        # the same control id from another sending facility is another message
        other = first.replace(b"|PAS|RCB|", b"|PAS|RCX|")
        assert ack_fields(client.send(other))[0] == "AA"
    assert stored(tmp_path) == [first, other]


def test_acked_messages_survive_a_kill_of_the_listener(tmp_path: Path) -> None:
    """The listener runs as its own process (the CLI) and is killed with SIGKILL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "mllp", "--port", "0", "--store", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = int(line.split(" on ")[1].split(",")[0].rsplit(":", 1)[1])
        messages = [adt(f"K-{n}", f"L{n}", nhs_no=nhs_number(n)) for n in range(20)]
        with MllpClient("127.0.0.1", port) as client:
            assert {ack_fields(client.send(m))[0] for m in messages} == {"AA"}
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        process.kill()
        process.wait(10)
    assert (tmp_path / JOURNAL).exists()  # killed: nothing was sealed
    with (tmp_path / JOURNAL).open("ab") as journal:  # a frame torn by the kill, never ACKed
        journal.write(MLLP_START + b"MSH|^~\\&|PAS|RCB|EHEGW|LA815|2026||ADT^A2")
    with listener(tmp_path) as (port, _), MllpClient("127.0.0.1", port) as client:
        assert ack_fields(client.send(messages[0]))[:2] == ("AA", "K-0")  # already held
    assert stored(tmp_path) == messages


def test_recovery_drops_only_the_torn_tail(tmp_path: Path) -> None:
    data = MLLP_START + b"MSH|one\x1c\r" + MLLP_START + b"MSH|tw"
    assert read_frames(data) == ([b"MSH|one"], len(MLLP_START + b"MSH|one\x1c\r"))
    assert read_frames(b"garbage" + data)[0] == []


def _send(root: Path, *messages: bytes) -> None:
    with listener(root) as (port, _), MllpClient("127.0.0.1", port) as client:
        for message in messages:
            assert ack_fields(client.send(message))[0] == "AA"


def _links(index_url: str) -> dict[str, str]:
    with session_factory(index_url)() as session:
        return {
            link.record_id: link.child_id
            for link in session.scalars(select(Link).where(Link.source == SOURCE))
        }


def test_messages_flow_on_into_the_index(tmp_path: Path, index_url: str) -> None:
    root = tmp_path / "mllp"
    shared = nhs_number(7)
    _send(
        root,
        adt("I-1", "P1", nhs_no=shared, itk=True),
        adt("I-2", "P2", nhs_no=nhs_number(8), version="2.3"),
        adt("I-3", "P3", nhs_no=shared, version="2.5", event="A08"),  # same child, other PAS id
    )
    (result,) = ingest(SOURCE, path=str(root / "sealed"), index_url=index_url)
    assert (result.received, result.loaded, result.quarantined, result.rejected) == (3, 3, 0, 0)
    link_children(index_url)
    links = _links(index_url)
    assert links["P1"] == links["P3"] != links["P2"]
    # the same sealed batch again adds nothing
    assert ingest(SOURCE, path=str(root / "sealed"), index_url=index_url) == []


def test_an_a40_merge_puts_the_retired_record_with_its_survivor(
    tmp_path: Path, index_url: str
) -> None:
    """The retired record (MRG-1) keeps its versions, is marked merged, and joins the survivor's
    child; the survivor's child id stays as it was, though the retired record's child is older."""
    root = tmp_path / "mllp"
    survivor_nhs = nhs_number(9)
    _send(root, adt("M-1", "OLD1", given="AMY"), adt("M-2", "OLD1", given="AMIE", event="A08"))
    ingest(SOURCE, path=str(root / "sealed"), index_url=index_url)
    link_children(index_url)
    _send(root, adt("M-3", "KEEP1", nhs_no=survivor_nhs))
    ingest(SOURCE, path=str(root / "sealed"), index_url=index_url)
    link_children(index_url)
    before = _links(index_url)
    assert before["OLD1"] != before["KEEP1"]

    _send(root, adt("M-4", "KEEP1", nhs_no=survivor_nhs, event="A40", merged_from="OLD1"))
    ingest(SOURCE, path=str(root / "sealed"), index_url=index_url)
    link_children(index_url)
    after = _links(index_url)
    assert after["OLD1"] == after["KEEP1"] == before["KEEP1"]
    with session_factory(index_url)() as session:
        retired = session.execute(
            select(SourceRecord.version, SourceRecord.merged_into_record_id)
            .where(SourceRecord.source == SOURCE, SourceRecord.record_id == "OLD1")
            .order_by(SourceRecord.version)
        ).all()
    assert [tuple(r) for r in retired] == [(1, "KEEP1"), (2, "KEEP1")]  # nothing lost


def test_an_oversized_message_is_refused_and_its_head_kept(tmp_path: Path) -> None:
    from gateway.mllp.server import MAX_MESSAGE_BYTES

    huge = adt("O-1", "L1").replace(b"TESTFAMILY", b"X" * (MAX_MESSAGE_BYTES + 10))
    with listener(tmp_path) as (port, store), MllpClient("127.0.0.1", port) as client:
        code, _, reason = ack_fields(client.send(huge))
        assert ack_fields(client.send(adt("O-2", "L2")))[:2] == ("AA", "O-2")  # still serving
    assert (code, reason) == ("AR", f"message larger than {MAX_MESSAGE_BYTES} bytes")
    (kept,) = (tmp_path / "errors").glob("*.hl7")
    assert huge.startswith(kept.read_bytes()) and kept.stat().st_size == MAX_MESSAGE_BYTES
    assert [n["code"] for n in store.errors()] == ["AR"]


def test_mllp_errors_lists_what_was_refused(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from gateway.cli import app

    with listener(tmp_path) as (port, _), MllpClient("127.0.0.1", port) as client:
        client.send(adt("E-1", "L1", event="A40"))
    result = CliRunner().invoke(app, ["mllp-errors", "--store", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    (note,) = json.loads(result.stdout)
    assert (note["code"], note["reason"]) == (
        "AE",
        "A40 merge without MRG-1 (the prior patient identifiers)",
    )
    assert (tmp_path / "errors" / note["file"]).read_bytes() == adt("E-1", "L1", event="A40")
