"""Source locations and credentials from Airflow Connections, read in the task (never in core).

The Connection ``ehe_<source>`` (env var ``AIRFLOW_CONN_EHE_<SOURCE>``, the UI or a secrets
backend) wins over the gateway's own ``EHE_SOURCE_*`` settings. Each kind of source expects one
shape (``SHAPES``); a Connection of another type, or without the keys its type needs, fails the
task at once saying what was expected, rather than being ignored. Not a DAG file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from connectors.registry import connector_class
from gateway.errors import FatalConfigError


@dataclass(frozen=True)
class Shape:
    """What a source's Connection must look like (shown in each ingest DAG's doc)."""

    kind: str
    expected: str


FILE_DROP = Shape("file drop", 'type `fs` with extra `{"path": "/folder/of/the/drop"}`')
DATABASE = Shape(
    "database",
    "type `postgres` (host, schema = database; login and password if needed) "
    "or type `sqlite` (host = the database file)",
)
MADE_BY_DEMO = "(made by the demo)"
API = Shape("API", "type `http` (host = the server's base URL, with its scheme)")


def connection_id(source: str) -> str:
    return f"ehe_{source}"


def shape(source: str) -> Shape:
    """The shape of the source's Connection, from its connector (file drop, database, API)."""
    cls = connector_class(source)
    if cls.inbox_folder is None:
        return API
    (key,) = cls.inbox_config(Path(cls.inbox_folder)).keys()
    return FILE_DROP if key == "path" else DATABASE


def source_location(source: str) -> dict[str, str]:
    """The source's path or URL from the Airflow Connection ``ehe_<source>``, if one is set.

    No Connection: ``{}`` (the gateway's own ``EHE_SOURCE_*`` settings or the inbox apply).
    A Connection of the wrong shape raises ``FatalConfigError`` naming what was expected.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    conn_id = connection_id(source)
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return {}
    return location_from(source, conn.conn_type, _fields(conn))


def _fields(conn: Any) -> dict[str, Any]:
    return {
        "host": conn.host,
        "schema": conn.schema,
        "login": conn.login,
        "password": conn.password,
        "port": conn.port,
        "extra": conn.extra_dejson or {},
    }


def location_from(source: str, conn_type: str | None, fields: dict[str, Any]) -> dict[str, str]:
    """Check a Connection's type and keys against the source's shape; return path or URL."""
    expected = shape(source)
    conn_id = connection_id(source)
    wrong = FatalConfigError(
        f"Connection {conn_id} is type {conn_type!r}; {source} is a {expected.kind} and "
        f"expects {expected.expected}"
    )
    conn_type = (conn_type or "").lower()
    if expected is FILE_DROP:
        if conn_type != "fs":
            raise wrong
        if not fields["extra"].get("path"):
            raise FatalConfigError(
                f"Connection {conn_id} has no extra `path`; {wrong_tail(source)}"
            )
        return {"path": str(fields["extra"]["path"])}
    if expected is DATABASE:
        return {"url": _database_url(source, conn_type, fields, wrong)}
    if conn_type != "http":
        raise wrong
    if not fields["host"]:
        raise FatalConfigError(f"Connection {conn_id} has no host; {wrong_tail(source)}")
    host = str(fields["host"])
    if "://" not in host:
        host = f"{fields['schema'] or 'https'}://{host}"
    if fields["port"]:
        parts = urlsplit(host)
        host = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{fields['port']}"))
    return {"url": host}


def wrong_tail(source: str) -> str:
    expected = shape(source)
    return f"{source} is a {expected.kind} and expects {expected.expected}"


def _database_url(
    source: str, conn_type: str, fields: dict[str, Any], wrong: FatalConfigError
) -> str:
    from sqlalchemy.engine import URL

    conn_id = connection_id(source)
    if conn_type == "sqlite":
        if not fields["host"]:
            raise FatalConfigError(f"Connection {conn_id} has no host; {wrong_tail(source)}")
        return f"sqlite:///{fields['host']}"
    if conn_type not in ("postgres", "postgresql"):
        raise wrong
    missing = [key for key in ("host", "schema") if not fields[key]]
    if missing:
        raise FatalConfigError(
            f"Connection {conn_id} has no {' or '.join(missing)}; {wrong_tail(source)}"
        )
    url = URL.create(
        "postgresql+psycopg",
        username=fields["login"],
        password=fields["password"],
        host=fields["host"],
        port=fields["port"],
        database=fields["schema"],
    )
    return url.render_as_string(hide_password=False)


def where(config: dict[str, Any]) -> str:
    """The path or URL a connector reads, fit for a log: a URL loses its user, password and
    query (which can carry a token); a path is shown whole."""
    if config.get("path"):
        return str(config["path"])
    url = str(config.get("url") or "")
    if not url:
        return "(no path or URL)"
    if url.startswith(("sqlite:", "postgresql", "postgres")):
        from sqlalchemy.engine import URL, make_url

        parsed = make_url(url)
        safe = URL.create(
            parsed.drivername, host=parsed.host, port=parsed.port, database=parsed.database
        )
        return safe.render_as_string(hide_password=True)
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def demo_connections() -> dict[str, dict[str, Any]]:
    """The Connections the demo's sources are read through (``ehe-gateway run-dags``), each in
    its source's shape, pointing where the gateway's settings or the inbox say."""
    from sqlalchemy.engine import make_url

    from gateway.sources import connector_config, source_names

    made: dict[str, dict[str, Any]] = {}
    for source in source_names():
        config = connector_config(source)
        conn: dict[str, Any]
        if shape(source) is FILE_DROP:
            conn = {"conn_type": "fs", "extra": {"path": str(config["path"])}}
        else:
            url = make_url(str(config["url"]))
            if url.get_backend_name() == "sqlite":
                conn = {"conn_type": "sqlite", "host": url.database}
            else:
                conn = {
                    "conn_type": "postgres",
                    "host": url.host,
                    "schema": url.database,
                    "login": url.username,
                    "password": url.password,
                    "port": url.port,
                }
        conn["description"] = f"{source}: {shape(source).kind} {MADE_BY_DEMO}"
        made[connection_id(source)] = conn
    return made
