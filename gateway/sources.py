"""Which sources exist and how each is configured on this deployment.

A source's config comes from the environment (``EHE_SOURCE_<SOURCE>_PATH`` for file drops,
``EHE_SOURCE_<SOURCE>_URL`` for databases and APIs), defaulting to the inbox layout that
``ehe-gateway synth`` writes. Secrets are never read from YAML.
"""

from __future__ import annotations

import os
from typing import Any

from connectors.base import Connector
from connectors.registry import CONNECTORS, connector_class
from gateway import config
from gateway.synth import CASE_DB_FILE, INBOX_LAYOUT


def source_names() -> list[str]:
    return sorted(CONNECTORS)


def connector_config(
    source: str, path: str | None = None, url: str | None = None
) -> dict[str, Any]:
    prefix = f"EHE_SOURCE_{source.upper()}"
    cls = connector_class(source)
    if "url" in cls.required_config:
        default = config.inbox_dir() / INBOX_LAYOUT[source] / CASE_DB_FILE
        return {"url": url or os.environ.get(f"{prefix}_URL") or f"sqlite:///{default}"}
    default_path = config.inbox_dir() / INBOX_LAYOUT[source]
    return {"path": path or os.environ.get(f"{prefix}_PATH") or str(default_path)}


def connector_for(source: str, path: str | None = None, url: str | None = None) -> Connector:
    return connector_class(source)(connector_config(source, path, url))
