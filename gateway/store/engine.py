"""Engines and sessions for the index, on SQLite or PostgreSQL, from one URL.

Every engine hides bound parameters from its errors (``hide_parameters=True``): a statement
that fails (a dropped connection mid-load, a constraint) would otherwise carry the children's
names and birth dates it was writing into the exception text, the CLI's output and the logs.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway import config
from gateway.settings import settings

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()
# A pooled connection idle longer than this is pinged before use (a restarted server or a
# firewall may have dropped it); one in steady use is not, which saves a round trip a request.
PING_AFTER_IDLE_SECONDS = 10.0
SQLITE_BUSY_TIMEOUT_MS = 300_000


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # A batch loads in one transaction; ingest DAGs of other sources running beside it wait
    # for its write lock rather than fail (a million-record run holds it for a minute or two).
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection that sat idle in the pool; a dead one is replaced, not handed out."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except Exception as error:  # any failure: the pool discards it and connects afresh
        raise exc.DisconnectionError("pooled connection was dropped") from error


def pool_size() -> int:
    """Connections kept per process: the API's concurrent requests each hold one (a pool
    smaller than that would open and close a connection on many requests)."""
    return settings().db_pool_size


def engine_for(url: str | None = None) -> Engine:
    """One engine per URL for the life of the process (default: ``config.index_url()``)."""
    resolved = normalise_url(url or config.index_url())
    with _LOCK:
        engine = _ENGINES.get(resolved)
        if engine is None:
            if make_url(resolved).get_backend_name() == "sqlite":
                engine = create_engine(resolved, pool_pre_ping=True, hide_parameters=True)
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(
                    resolved,
                    pool_size=pool_size(),
                    max_overflow=10,
                    pool_recycle=3600,
                    hide_parameters=True,
                )
                event.listen(engine, "checkin", _note_checkin)
                event.listen(engine, "checkout", _ping_if_idle)
            _ENGINES[resolved] = engine
    return engine


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def dispose_engine(url: str) -> None:
    """Close one URL's pooled connections and forget its engine (before dropping a database)."""
    with _LOCK:
        engine = _ENGINES.pop(normalise_url(url), None)
    if engine is not None:
        engine.dispose()


def insert_if_absent(session: Session, table: Any, values: dict[str, Any]) -> None:
    """INSERT one row unless its key exists (ON CONFLICT DO NOTHING, SQLite and PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table).values(**values)
    session.execute(statement.on_conflict_do_nothing())
