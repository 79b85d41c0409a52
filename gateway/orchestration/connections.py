"""Source locations and credentials from Airflow Connections, read in the task (never in core).

The Connection ``ehe_<source>`` (env var ``AIRFLOW_CONN_EHE_<SOURCE>``, the UI or a secrets
backend) wins over the gateway's own ``EHE_SOURCE_*`` settings. Not a DAG file.
"""

from __future__ import annotations


def source_location(source: str) -> dict[str, str]:
    """The source's path or URL from the Airflow Connection ``ehe_<source>``, if one is set."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(f"ehe_{source}")
    except Exception:  # not found: the gateway's own EHE_SOURCE_* settings apply
        return {}
    extra = conn.extra_dejson or {}
    if extra.get("path") or extra.get("url"):
        return {k: str(extra[k]) for k in ("path", "url") if extra.get(k)}
    if conn.conn_type in ("postgres", "postgresql") and conn.host:
        from sqlalchemy.engine import URL

        url = URL.create(
            "postgresql+psycopg",
            username=conn.login,
            password=conn.password,
            host=conn.host,
            port=conn.port,
            database=conn.schema,
        )
        return {"url": url.render_as_string(hide_password=False)}
    return {}
