"""Landing: keep every received file byte-exact, with its hash, batch id and received time.

A batch id is the source plus the first 16 hex digits of the file's SHA-256, so the same file
received twice is the same batch, and landing it again adds nothing. The batch row records the
file's name and size.

A drop folder cannot be escaped. Only regular files inside the configured folder (or the file
the configuration names) are landed: a symbolic link, a named pipe, a device, a socket or a
path that resolves outside the folder is refused with its reason, and never opened for reading
(a file is opened without following a link, checked on the open handle, and read only through
it, so it cannot be swapped for a link between the check and the copy). A refused entry is not
dropped: it becomes a batch of one rejected item (``refused_batch``) that the accounting and
``quarantine list --status rejected`` show, holding its reason and nothing of its content.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path

from sqlalchemy import select

from gateway import config
from gateway.errors import BadRecordError
from gateway.pipeline.bookmarks import read_bookmark, save_bookmark
from gateway.sources import connector_for
from gateway.store.batch_status import SETTLED
from gateway.store.engine import insert_if_absent, session_factory
from gateway.store.tables import Batch, HeldRecord

log = logging.getLogger(__name__)
_BLOCK = 1 << 20
_NOT_REGULAR = {
    stat.S_IFLNK: ("symbolic_link", "a symbolic link: links are not followed out of the folder"),
    stat.S_IFIFO: ("not_a_regular_file", "a named pipe (FIFO), not a regular file"),
    stat.S_IFCHR: ("not_a_regular_file", "a character device, not a regular file"),
    stat.S_IFBLK: ("not_a_regular_file", "a block device, not a regular file"),
    stat.S_IFSOCK: ("not_a_regular_file", "a socket, not a regular file"),
    stat.S_IFDIR: ("not_a_regular_file", "a folder, not a file"),
}
OUTSIDE = ("outside_the_folder", "resolves to a path outside the configured folder")


class Refused(BadRecordError):
    """An offered path that is not landed: ``rule`` names the check, ``explain`` says why."""

    def __init__(self, rule: str, explain: str) -> None:
        super().__init__(explain)
        self.rule = rule
        self.explain = explain


def landed_file(batch: Batch) -> Path:
    return config.landing_dir() / batch.source / batch.batch_id / batch.file_name


def land_source(
    source: str, *, path: str | None = None, url: str | None = None, index_url: str | None = None
) -> list[str]:
    """Extract what is new from a source and land it; return the batch ids still to load."""
    connector = connector_for(source, path, url)
    Session = session_factory(index_url)
    with Session() as session:
        bookmark = read_bookmark(session, source)
    work_dir = config.data_dir() / "extracts" / source
    extraction = connector.extract(work_dir, bookmark)
    roots = [work_dir]
    if connector.config.get("path"):
        roots.append(Path(connector.config["path"]))
    refused = 0
    for offered in extraction.files:
        try:
            land_file(source, offered, roots=roots, index_url=index_url)
        except Refused as refusal:
            refused += 1
            batch_id = refused_batch(source, offered, refusal, index_url=index_url)
            log.warning("source %s: refused batch %s: %s", source, batch_id, refusal.explain)
    if extraction.bookmark and extraction.bookmark != bookmark:
        with Session.begin() as session:
            save_bookmark(session, source, extraction.bookmark)
    # Batches landed by an earlier run that never finished loading are picked up again here;
    # a gated batch waits for a person (``quarantine release``) and never holds up the rest.
    with Session() as session:
        to_load = list(
            session.scalars(
                select(Batch.batch_id)
                .where(Batch.source == source, Batch.status.notin_(SETTLED))
                .order_by(Batch.received_at, Batch.batch_id)
            )
        )
    log.info(
        "source %s: %d file(s) offered, %d refused, %d batch(es) to load",
        source,
        len(extraction.files),
        refused,
        len(to_load),
    )
    return to_load


def land_file(
    source: str, path: Path, *, roots: list[Path] | None = None, index_url: str | None = None
) -> str:
    """Copy one file into the landing area (once) and return its batch id.

    ``roots``: the folders (or the one file) it must be in; Refused if it is not a regular
    file there. Read once, through one handle: hashed while it is copied.
    """
    fd = _open_regular(path, roots if roots is not None else [path])
    incoming = config.landing_dir() / source / f".incoming-{os.getpid()}-{id(path)}.partial"
    incoming.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "rb") as handle, incoming.open("wb") as copy:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
                copy.write(block)
                size += len(block)
        batch_id = f"{source}-{digest.hexdigest()[:16]}"
        values = {
            "batch_id": batch_id,
            "source": source,
            "file_name": path.name,
            "sha256": digest.hexdigest(),
            "size_bytes": size,
            "status": "landed",
        }
        with session_factory(index_url).begin() as session:
            # Insert first (a second run landing the same file at once adds nothing), then read.
            insert_if_absent(session, Batch, values)
            batch = session.get(Batch, batch_id)
            assert batch is not None
            target = landed_file(batch)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                incoming.replace(target)
    finally:
        incoming.unlink(missing_ok=True)
    return batch_id


def _open_regular(path: Path, roots: list[Path]) -> int:
    """A read handle on ``path`` if it is a regular file within ``roots``; else Refused.

    The configured path itself is taken as the operator named it (resolved, links included);
    what is found inside it must be a regular file, not a link, and stay inside.
    """
    named = any(path == root for root in roots)
    real = os.path.realpath(path) if named else os.path.abspath(path)
    mode = os.lstat(real).st_mode
    if not stat.S_ISREG(mode):
        raise Refused(*_NOT_REGULAR.get(stat.S_IFMT(mode), _NOT_REGULAR[stat.S_IFCHR]))
    if not any(_within(os.path.realpath(real), os.path.realpath(root)) for root in roots):
        raise Refused(*OUTSIDE)
    # O_NOFOLLOW: a link put in its place since is not followed; O_NONBLOCK: nor a pipe waited on.
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise Refused(*_NOT_REGULAR.get(stat.S_IFMT(mode), _NOT_REGULAR[stat.S_IFCHR]))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _within(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def refused_batch(
    source: str, path: Path, refusal: Refused, *, index_url: str | None = None
) -> str:
    """Record a refused path as a batch of one rejected item (its reason, none of its content).

    The batch id is keyed by the entry (name, inode, change time) and the rule, so the same
    entry offered again adds nothing, and a new one in its place is recorded again.
    """
    try:
        entry = os.lstat(path)
        identity = f"{entry.st_ino}:{entry.st_ctime_ns}"
    except OSError:
        identity = "gone"
    key = hashlib.sha256(f"{path.name}\0{identity}\0{refusal.rule}".encode()).hexdigest()
    batch_id = f"{source}-refused-{key[:16]}"
    batch = {
        "batch_id": batch_id,
        "source": source,
        "file_name": path.name[:255],
        "sha256": key,
        "size_bytes": 0,
        "status": "loaded",
        "received": 1,
        "rejected": 1,
    }
    held = {
        "batch_id": batch_id,
        "source": source,
        "item_key": path.name[:160],
        "stage": "connector",
        "status": "rejected",
        "reasons": [{"stage": "landing", "rule": refusal.rule, "explain": refusal.explain}],
        "payload": "",
    }
    with session_factory(index_url).begin() as session:
        insert_if_absent(session, Batch, batch)
        insert_if_absent(session, HeldRecord, held)
    return batch_id
