"""Helpers for the web and report tests: a populated index, a server on a loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from gateway.pipeline import ingest, link_children
from gateway.store.engine import session_factory
from gateway.store.tables import SourceRecord

SOURCES = (
    "education__ehe_register",
    "education__ctf",
    "health__fhir_patient",
    "social_care__case_db",
)


def populate(index_url: str) -> None:
    """Load the synthetic inbox's main sources and link them (the ``inbox`` fixture is set)."""
    for source in SOURCES:
        ingest(source, index_url=index_url)
    link_children(index_url)


def nhs_number_known_to_social_care(index_url: str) -> str:
    with session_factory(index_url)() as session:
        found = session.scalar(
            select(SourceRecord.nhs_number)
            .where(SourceRecord.agency == "social_care", SourceRecord.nhs_number.is_not(None))
            .order_by(SourceRecord.nhs_number)
            .limit(1)
        )
    assert found, "the synthetic social care source should carry NHS numbers"
    return found


@contextmanager
def served(app: FastAPI, port: int = 0) -> Iterator[str]:
    """Serve ``app`` on a loopback port (ephemeral unless given); yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
