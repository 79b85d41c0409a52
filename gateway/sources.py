"""Which sources exist and how each is configured on this deployment.

A source's config comes from the environment (``EHE_SOURCE_<SOURCE>_PATH`` for file drops,
``EHE_SOURCE_<SOURCE>_URL`` for databases and APIs, and ``EHE_SOURCE_<SOURCE>_<KEY>`` for each
further setting an API connector names, such as ``TOKEN_URL``, ``CLIENT_ID`` and the secret
``CLIENT_SECRET``), defaulting to the inbox layout that ``ehe-gateway synth`` writes. Secrets
are never read from YAML.
"""

from __future__ import annotations

import os
from typing import Any

from connectors.base import Connector
from connectors.registry import CONNECTORS, connector_class
from gateway import config
from gateway.synth import CASE_DB_FILE, INBOX_LAYOUT


def source_names() -> list[str]:
    """Sources read from files or databases: those the synthetic inbox holds, the demo runs."""
    return sorted(s for s in CONNECTORS if s in INBOX_LAYOUT)


def api_source_names() -> list[str]:
    """Sources read from a network API: run where a server is configured (``--url``)."""
    return sorted(s for s in CONNECTORS if s not in INBOX_LAYOUT)


def connector_config(
    source: str, path: str | None = None, url: str | None = None
) -> dict[str, Any]:
    prefix = f"EHE_SOURCE_{source.upper()}"
    cls = connector_class(source)
    if source not in INBOX_LAYOUT:
        return _api_config(prefix, getattr(cls, "env_config", ("url",)), url)
    if "url" in cls.required_config:
        default = config.inbox_dir() / INBOX_LAYOUT[source] / CASE_DB_FILE
        return {"url": url or os.environ.get(f"{prefix}_URL") or f"sqlite:///{default}"}
    default_path = config.inbox_dir() / INBOX_LAYOUT[source]
    return {"path": path or os.environ.get(f"{prefix}_PATH") or str(default_path)}


def _api_config(prefix: str, keys: tuple[str, ...], url: str | None) -> dict[str, Any]:
    """An API source's settings from the environment; ``url`` given by hand wins."""
    settings = {
        key: os.environ[f"{prefix}_{key.upper()}"]
        for key in keys
        if f"{prefix}_{key.upper()}" in os.environ
    }
    if url:
        settings["url"] = url
    return settings


def connector_for(source: str, path: str | None = None, url: str | None = None) -> Connector:
    return connector_class(source)(connector_config(source, path, url))
