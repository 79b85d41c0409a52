"""Drop folders that cannot be escaped: links, pipes, devices and paths outside the configured
folder are refused with a reason, shown in the accounting and the quarantine list, and never
read; a landed file's name and size are recorded (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway import config
from gateway.pipeline import accounting_rows, ingest
from gateway.pipeline.landing import Refused, land_file
from gateway.quarantine import list_held
from gateway.store.engine import session_factory
from gateway.store.tables import Batch

SOURCE = "health__hl7v2_adt"


def adt(control: str, local_id: str) -> bytes:
    return (
        f"MSH|^~\\&|PAS|RCB|EHEGW|LA815|20261101090000||ADT^A28|{control}|P|2.4\r"
        f"PID|1||{local_id}^^^RCB^PI||TESTFAMILY^AMY||20150304|F"
    ).encode()


def landed_bytes() -> list[bytes]:
    return [p.read_bytes() for p in config.landing_dir().rglob("*") if p.is_file()]


def refusals(index_url: str) -> dict[str, tuple[str, str]]:
    """Refused items by name: (rule, reason)."""
    return {
        item.item_key: (item.reasons[0]["rule"], item.reasons[0]["explain"])
        for item in list_held(source=SOURCE, status="rejected", index_url=index_url)
        if item.reasons[0]["stage"] == "landing"
    }


def test_links_and_pipes_are_refused_with_a_reason_and_accounted(
    tmp_path: Path, index_url: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.hl7"
    secret.write_bytes(adt("S-1", "SECRET1"))
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "good.hl7").write_bytes(adt("G-1", "L1"))
    (drop / "escape.hl7").symlink_to(secret)
    (drop / "inside.hl7").symlink_to(drop / "good.hl7")  # a link is a link, wherever it points
    (drop / "passwd.txt").symlink_to("/etc/passwd")
    os.mkfifo(drop / "pipe.hl7")  # would block a reader for ever

    (result,) = ingest(SOURCE, path=str(drop), index_url=index_url)
    assert (result.received, result.loaded) == (1, 1)  # good.hl7, as before

    link = ("symbolic_link", "a symbolic link: links are not followed out of the folder")
    assert refusals(index_url) == {
        "escape.hl7": link,
        "inside.hl7": link,
        "passwd.txt": link,
        "pipe.hl7": ("not_a_regular_file", "a named pipe (FIFO), not a regular file"),
    }
    assert not any(b"SECRET1" in data or b"root:" in data for data in landed_bytes())
    rows = {row.batch: row for row in accounting_rows(index_url)}
    refused = [row for row in rows.values() if "-refused-" in row.batch]
    assert len(refused) == 4
    assert {(r.received, r.loaded, r.quarantined, r.rejected) for r in refused} == {(1, 0, 0, 1)}
    # offered again, nothing new: the same entries are the same refused batches
    assert ingest(SOURCE, path=str(drop), index_url=index_url) == []
    assert len(accounting_rows(index_url)) == len(rows)


def test_a_landed_file_keeps_its_name_and_size(tmp_path: Path, index_url: str) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    data = adt("N-1", "L1") + b"\r\n" + adt("N-2", "L2")
    (drop / "feed 2026-11-01.hl7").write_bytes(data)
    ingest(SOURCE, path=str(drop), index_url=index_url)
    with session_factory(index_url)() as session:
        (batch,) = session.scalars(select(Batch).where(Batch.source == SOURCE))
    assert (batch.file_name, batch.size_bytes, batch.received) == (
        "feed 2026-11-01.hl7",
        len(data),
        2,
    )
    assert landed_bytes() == [data]


def test_a_path_outside_the_folder_or_a_device_is_refused(tmp_path: Path, data_dir: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    elsewhere = tmp_path / "elsewhere.hl7"
    elsewhere.write_bytes(adt("E-1", "L1"))
    with pytest.raises(Refused) as outside:
        land_file(SOURCE, elsewhere, roots=[drop])
    assert (outside.value.rule, outside.value.explain) == (
        "outside_the_folder",
        "resolves to a path outside the configured folder",
    )
    with pytest.raises(Refused) as device:  # the operator named a device as the source
        land_file(SOURCE, Path("/dev/null"), roots=[Path("/dev/null")])
    assert device.value.explain == "a character device, not a regular file"
    assert landed_bytes() == []


def test_a_configured_folder_that_is_itself_a_link_is_read(tmp_path: Path, index_url: str) -> None:
    """The operator's own path is taken as given; only what is found inside must not be a link."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.hl7").write_bytes(adt("F-1", "L1"))
    (tmp_path / "configured").symlink_to(real)
    (result,) = ingest(SOURCE, path=str(tmp_path / "configured"), index_url=index_url)
    assert (result.received, result.loaded) == (1, 1)


def test_a_pipe_named_as_the_source_is_refused_without_waiting_for_a_writer(
    tmp_path: Path, index_url: str
) -> None:
    pipe = tmp_path / "feed.hl7"
    os.mkfifo(pipe)
    done = threading.Event()

    def run() -> None:
        ingest(SOURCE, path=str(pipe), index_url=index_url)
        done.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert done.is_set(), "ingest blocked on a named pipe"
    assert refusals(index_url) == {
        "feed.hl7": ("not_a_regular_file", "a named pipe (FIFO), not a regular file")
    }
