"""Landing: keep every received file byte-exact, with its hash, batch id and received time.

A batch id is the source plus the first 16 hex digits of the file's SHA-256, so the same file
received twice is the same batch, and landing it again adds nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from sqlalchemy import select

from gateway import config
from gateway.pipeline.bookmarks import read_bookmark, save_bookmark
from gateway.sources import connector_for
from gateway.store.batch_status import SETTLED
from gateway.store.engine import insert_if_absent, session_factory
from gateway.store.tables import Batch

log = logging.getLogger(__name__)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    pending = [land_file(source, f, index_url=index_url) for f in extraction.files]
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
        "source %s: %d file(s) offered, %d batch(es) to load", source, len(pending), len(to_load)
    )
    return to_load


def land_file(source: str, path: Path, *, index_url: str | None = None) -> str:
    """Copy one file into the landing area (once) and return its batch id."""
    digest = sha256_of(path)
    batch_id = f"{source}-{digest[:16]}"
    values = {
        "batch_id": batch_id,
        "source": source,
        "file_name": path.name,
        "sha256": digest,
        "size_bytes": path.stat().st_size,
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
            partial = target.with_suffix(f"{target.suffix}.{os.getpid()}.partial")
            shutil.copyfile(path, partial)
            partial.replace(target)
    return batch_id
