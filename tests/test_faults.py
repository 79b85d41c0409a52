"""Idempotence and faults survived, on SQLite and PostgreSQL.

Each test compares the index, by a fingerprint of its content (timestamps and surrogate ids
left out), with a clean single run of the same sources: re-runs, two runs at once, a worker
killed mid-load, the index connection dropped mid-load and a source that times out must all
end in exactly that index, with the accounting adding up.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import PG_ADMIN, _drop_pg_database, _make_pg_database, require_postgres
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError

from connectors.registry import connector_class
from connectors.social_care.case_db import INBOX_DATABASE
from gateway.errors import RetriableSourceError
from gateway.pipeline import (
    accounting_rows,
    ingest,
    land_source,
    link_children,
    load_batch,
    stage_batch,
)
from gateway.recovery import classify
from gateway.store.engine import dispose_engine, engine_for, session_factory
from gateway.store.fingerprint import index_fingerprint
from gateway.store.migrate import upgrade
from gateway.store.tables import Batch, SourceBookmark, SourceRecord

SOURCES = ("education__ehe_register", "social_care__case_db")
Outcome = tuple[dict[str, str], list[dict[str, object]]]
_BASELINES: dict[tuple[tuple[str, ...], bool], Outcome] = {}


def _outcome(url: str) -> Outcome:
    with session_factory(url)() as session:
        fingerprint = index_fingerprint(session)
    rows = [a.as_dict() for a in accounting_rows(url)]
    for row in rows:
        assert row["received"] == row["loaded"] + row["quarantined"] + row["rejected"]  # type: ignore[operator]
    return fingerprint, sorted(rows, key=lambda r: str(r["batch"]))


def _run_all(sources: tuple[str, ...], url: str, link: bool = False) -> None:
    for source in sources:
        ingest(source, index_url=url)
    if link:
        link_children(url)


def baseline(
    sources: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link: bool = False
) -> Outcome:
    """The index one clean run leaves (SQLite, its own data folder; computed once a session)."""
    key = (sources, link)
    if key not in _BASELINES:
        url = f"sqlite:///{tmp_path / 'baseline.sqlite'}"
        with monkeypatch.context() as patch:
            patch.setenv("EHE_DATA_DIR", str(tmp_path / "baseline-data"))
            upgrade(url)
            _run_all(sources, url, link)
            _BASELINES[key] = _outcome(url)
        dispose_engine(url)
    return _BASELINES[key]


@pytest.fixture
def pg_index_url(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh index on the real PostgreSQL server (the fault needs a server connection)."""
    require_postgres()
    name, url = _make_pg_database()
    monkeypatch.setenv("EHE_INDEX_URL", url)
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engine(url)
        _drop_pg_database(name)


def test_rerun_of_an_interval_changes_nothing(
    index_url: str, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run_all(SOURCES, index_url, link=True)
    first = _outcome(index_url)
    assert first == baseline(SOURCES, tmp_path, monkeypatch, link=True)
    _run_all(SOURCES, index_url, link=True)
    assert _outcome(index_url) == first
    # Re-running a batch the first run loaded (a backfill of that interval) adds nothing either.
    with session_factory(index_url)() as session:
        batch_ids = list(session.scalars(select(Batch.batch_id)))

    for batch_id in batch_ids:
        load_batch(batch_id, index_url=index_url)
    assert _outcome(index_url) == first


def test_two_runs_at_once_leave_what_one_run_leaves(
    index_url: str, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The clean run first: it also warms GX's context, whose first load is not thread-safe
    # (Airflow runs tasks in separate processes; threads here only make the overlap likely).
    expected = baseline(SOURCES, tmp_path, monkeypatch)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            _run_all(SOURCES, index_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    assert _outcome(index_url) == expected


# The load's last write before it commits: by then its records are written (COPY on
# PostgreSQL, which no cursor-execute hook sees), merged and held items kept, all uncommitted.
AFTER_RECORDS = "INSERT INTO VALIDATION_RUN"

KILL_AFTER_RECORDS = f"""
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine

@event.listens_for(Engine, "before_cursor_execute")
def die_mid_load(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip().upper().startswith({AFTER_RECORDS!r}):
        os.kill(os.getpid(), signal.SIGKILL)

from gateway.pipeline import load_batch
for batch_id in sys.argv[1:]:
    load_batch(batch_id)
"""


def test_worker_killed_mid_load_loses_and_duplicates_nothing(
    index_url: str, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = SOURCES[0]
    # Land and stage here; the worker process that loads is killed once its records are written.
    batch_ids = land_source(source, index_url=index_url)
    for batch_id in batch_ids:
        stage_batch(batch_id, index_url=index_url)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_RECORDS, *batch_ids],
        env=dict(os.environ),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    with session_factory(index_url)() as session:
        statuses = set(session.scalars(select(Batch.status).where(Batch.source == source)))
        records = session.scalar(select(func.count()).select_from(SourceRecord))
    assert statuses == {"staged"} and records == 0, "the killed load left nothing half-done"
    _run_all(SOURCES, index_url)  # the next run
    assert _outcome(index_url) == baseline(SOURCES, tmp_path, monkeypatch)


def test_index_connection_dropped_mid_load(
    pg_index_url: str, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader's server connection is terminated in the middle of its load transaction."""
    engine = engine_for(pg_index_url)
    dropped: list[int] = []

    def drop_connection(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if dropped or not statement.lstrip().upper().startswith(AFTER_RECORDS):
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        dropped.append(pid)

    event.listen(engine, "before_cursor_execute", drop_connection)
    try:
        with pytest.raises(DBAPIError) as caught:
            ingest(SOURCES[0], index_url=pg_index_url)
    finally:
        event.remove(engine, "before_cursor_execute", drop_connection)
    assert dropped, "the load wrote its records before the connection dropped"
    assert classify(caught.value).retriable
    with session_factory(pg_index_url)() as session:
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 0
    _run_all(SOURCES, pg_index_url)  # the retry / next run
    assert _outcome(pg_index_url) == baseline(SOURCES, tmp_path, monkeypatch)


def _terminate_and_wait(pid: int) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(200):  # until the server process is gone (bounded)
            if not admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone():
                return
            threading.Event().wait(0.05)
    raise AssertionError(f"server process {pid} did not end")


@pytest.mark.parametrize("idle_long_enough", [True, False])
def test_a_pooled_connection_is_pinged_only_after_idling(
    pg_index_url: str, monkeypatch: pytest.MonkeyPatch, idle_long_enough: bool
) -> None:
    """A pooled connection that sat idle past the threshold is pinged, and a dead one replaced
    before use; one in steady use is handed out unpinged (its loss costs one failed request,
    after which the pool starts afresh) - the round trip a request the ping would cost."""
    import gateway.store.engine as engine_module

    monkeypatch.setattr(
        engine_module, "PING_AFTER_IDLE_SECONDS", 0.0 if idle_long_enough else 3600.0
    )
    engine = engine_for(pg_index_url)
    with engine.connect() as conn:
        pid = conn.scalar(select(func.pg_backend_pid()))
    _terminate_and_wait(pid)
    if idle_long_enough:
        with engine.connect() as conn:
            assert conn.scalar(select(func.pg_backend_pid())) != pid
    else:
        with pytest.raises(DBAPIError), engine.connect() as conn:
            conn.scalar(select(func.pg_backend_pid()))
        with engine.connect() as conn:  # the pool has let go of the dead connection
            assert conn.scalar(select(func.pg_backend_pid())) != pid


def test_source_that_times_out_then_recovers(
    index_url: str, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case-management database is locked by its owner: the read times out (retriable),
    nothing is landed and the bookmark stays; once it answers, the next run gets everything."""
    source = "social_care__case_db"
    copy = tmp_path / "case.sqlite"
    shutil.copyfile(inbox / str(connector_class(source).inbox_folder) / INBOX_DATABASE, copy)
    monkeypatch.setenv("EHE_SOURCE_SOCIAL_CARE__CASE_DB_URL", f"sqlite:///{copy}?timeout=0.5")
    owner = sqlite3.connect(copy, isolation_level=None)
    owner.execute("PRAGMA journal_mode=DELETE")
    owner.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RetriableSourceError, match="database unavailable"):
            ingest(source, index_url=index_url)
    finally:
        owner.execute("ROLLBACK")
        owner.close()
    with session_factory(index_url)() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 0
        assert session.get(SourceBookmark, source) is None
    _run_all(SOURCES, index_url)
    assert _outcome(index_url) == baseline(SOURCES, tmp_path, monkeypatch)
