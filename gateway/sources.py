"""Which sources exist and how each is configured on this deployment.

The sources are the connector registry's (``connectors/registry.py``). A source's config comes
from the environment (``EHE_SOURCE_<SOURCE>_PATH`` for file drops, ``EHE_SOURCE_<SOURCE>_URL``
for databases and APIs, and ``EHE_SOURCE_<SOURCE>_<KEY>`` for each further setting an API
connector names, such as ``TOKEN_URL``, ``CLIENT_ID`` and the secret ``CLIENT_SECRET``),
defaulting to the source's folder in the inbox. Secrets are never read from YAML.
"""

from __future__ import annotations

from typing import Any

from connectors.base import Connector
from connectors.registry import CONNECTORS, connector_class
from gateway import config
from gateway.settings import source_setting

LINK_DAG_ID = "link__children"
# Work against one source system at once, per pool (``ehe-gateway sources --airflow-pools``).
POOL_SLOTS = 2


def source_names() -> list[str]:
    """Sources the demo runs: files and databases, each with a folder in the inbox."""
    return sorted(s for s, cls in CONNECTORS.items() if cls.in_demo)


def api_source_names() -> list[str]:
    """Sources the demo does not run (network APIs): run where a server is configured."""
    return sorted(s for s, cls in CONNECTORS.items() if not cls.in_demo)


def full_snapshot_sources() -> list[str]:
    """Sources whose every delivery is a whole snapshot (the row-count gate guards them)."""
    return sorted(s for s, cls in CONNECTORS.items() if cls.full_snapshot)


def ingest_dag_id(source: str) -> str:
    return f"ingest__{source}"


def demo_dag_ids() -> list[str]:
    """What ``ehe-gateway run-dags --all`` runs: the demo's ingest DAGs in registry order
    (largest source first), then linkage."""
    return [ingest_dag_id(s) for s, cls in CONNECTORS.items() if cls.in_demo] + [LINK_DAG_ID]


def airflow_pools() -> dict[str, dict[str, Any]]:
    """One Airflow pool per source, as ``airflow pools import`` reads them."""
    return {
        cls.pool: {
            "slots": POOL_SLOTS,
            "description": f"work against {source}",
            "include_deferred": False,
        }
        for source, cls in sorted(CONNECTORS.items())
    }


def connector_config(
    source: str, path: str | None = None, url: str | None = None
) -> dict[str, Any]:
    cls = connector_class(source)
    if cls.inbox_folder is None:
        return _api_config(source, getattr(cls, "env_config", ("url",)), url)
    ((key, default),) = cls.inbox_config(config.inbox_dir() / cls.inbox_folder).items()
    given = {"path": path, "url": url}[key]
    return {key: given or source_setting(source, key) or default}


def _api_config(source: str, keys: tuple[str, ...], url: str | None) -> dict[str, Any]:
    """An API source's settings from the environment; ``url`` given by hand wins."""
    settings = {key: value for key in keys if (value := source_setting(source, key)) is not None}
    if url:
        settings["url"] = url
    return settings


def connector_for(source: str, path: str | None = None, url: str | None = None) -> Connector:
    return connector_class(source)(connector_config(source, path, url))
