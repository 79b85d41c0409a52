"""The pipeline stages, as plain functions that pass batch ids (never data) between them.

``land_source`` -> ``stage_batch`` -> ``load_batch`` for each source, then ``link_children``.
Airflow DAGs call these in order; ``ingest`` runs one source through all of them by hand.
"""

from __future__ import annotations

from gateway.linkage.publish import LinkSummary, link_children
from gateway.pipeline.landing import land_source
from gateway.pipeline.loading import Accounting, accounting_rows, load_batch, load_batches
from gateway.pipeline.staging import StagedCounts, stage_batch

__all__ = [
    "Accounting",
    "LinkSummary",
    "StagedCounts",
    "accounting_rows",
    "ingest",
    "land_source",
    "link_children",
    "load_batch",
    "load_batches",
    "stage_batch",
]


def ingest(
    source: str, *, path: str | None = None, url: str | None = None, index_url: str | None = None
) -> list[Accounting]:
    """Land, stage and load whatever is new from one source; return each batch's accounting."""
    results = []
    for batch_id in land_source(source, path=path, url=url, index_url=index_url):
        stage_batch(batch_id, index_url=index_url)
        results.append(load_batch(batch_id, index_url=index_url))
    return results
