"""The Assets the gateway's DAGs publish and wait for, as the data flows: each source's slice
of the index (``index__<source>``, from its ingest DAG) -> ``link__children`` -> the linked
children (``index__children``) -> ``report__validation``."""

from __future__ import annotations

import functools
import operator
from typing import Any

from airflow.sdk import Asset

__all__ = ["CHILDREN", "any_index_asset", "index_asset"]

# What ``link__children`` publishes and the validation report waits for.
CHILDREN = Asset(name="index__children", uri="ehe-index://children")


def index_asset(source: str) -> Asset:
    """The Asset an ingest DAG publishes when a source's batches are in the index."""
    return Asset(name=f"index__{source}", uri=f"ehe-index://source/{source}")


def any_index_asset(sources: list[str]) -> Any:
    """A schedule that fires when any of these sources' batches reach the index."""
    return functools.reduce(operator.or_, [index_asset(s) for s in sources])
