"""The Assets the gateway's DAGs publish and wait for (one per source's slice of the index)."""

from __future__ import annotations

import functools
import operator
from typing import Any

from airflow.sdk import Asset

__all__ = ["any_index_asset", "index_asset"]


def index_asset(source: str) -> Asset:
    """The Asset an ingest DAG publishes when a source's batches are in the index."""
    return Asset(name=f"index__{source}", uri=f"ehe-index://source/{source}")


def any_index_asset(sources: list[str]) -> Any:
    """A schedule that fires when any of these sources' batches reach the index."""
    return functools.reduce(operator.or_, [index_asset(s) for s in sources])
