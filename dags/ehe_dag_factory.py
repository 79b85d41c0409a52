"""Builders for the gateway's Airflow DAGs: configuration here, work in ``gateway.pipeline``.

Tasks pass batch ids, never data. Heavy imports stay inside the tasks, so parsing a DAG file
costs only Airflow's own import.
"""

from __future__ import annotations

import functools
import operator
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

# Every source with an ingest DAG (a test checks this against the connector registry).
SOURCES = [
    "education__ctf",
    "education__ehe_register",
    "health__fhir_patient",
    "health__hl7v2_adt",
    "social_care__case_db",
    "social_care__cin_census",
]
START = pendulum.datetime(2026, 1, 1, tz="Europe/London")
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    # Retries for retriable source errors; `ehe-gateway run-dags` sets 0 to fail fast.
    "retries": int(os.environ.get("EHE_DAG_RETRIES", "3")),
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=1),
}
# What every DAG of the gateway shares (a DAG file adds its schedule, tags and doc).
COMMON: dict[str, Any] = {"start_date": START, "catchup": False, "max_active_runs": 1}


def _pipeline() -> Any:
    """The pipeline stages, imported when a task runs (never at parse time), logging set up."""
    import gateway.pipeline
    from gateway.logs import configure_logging

    configure_logging()
    return gateway.pipeline


def index_asset(source: str) -> Asset:
    """The Asset an ingest DAG publishes when a source's batches are in the index."""
    return Asset(name=f"index__{source}", uri=f"ehe-index://source/{source}")


def any_index_asset(sources: list[str]) -> Any:
    """A schedule that fires when any of these sources' batches reach the index."""
    return functools.reduce(operator.or_, [index_asset(s) for s in sources])


def ingest_dag(source: str, schedule: str, doc: str) -> Any:
    """One ingest DAG: land what is new, stage each batch, load each batch."""
    agency = source.split("__", 1)[0]

    @dag(
        dag_id=f"ingest__{source}",
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["ingest", agency],
        doc_md=doc,
    )
    def ingest() -> None:
        @task
        def land() -> list[str]:
            return _pipeline().land_source(source)

        @task
        def stage(batch_ids: list[str]) -> list[str]:
            for batch_id in batch_ids:
                _pipeline().stage_batch(batch_id)
            return batch_ids

        @task(outlets=[index_asset(source)])
        def load(batch_ids: list[str]) -> list[dict[str, object]]:
            from airflow.sdk.exceptions import AirflowFailException

            loaded, stopped = _pipeline().load_batches(batch_ids)
            if stopped:  # a batch gate failed: fail now, visibly, without retrying
                raise AirflowFailException(" | ".join(stopped))
            return loaded

        load(stage(land()))

    return ingest()


def link_dag(sources: list[str]) -> Any:
    """Link and publish whenever any source's batches reach the index."""

    @dag(
        dag_id="link__children",
        schedule=any_index_asset(sources),
        **COMMON,
        default_args=DEFAULT_ARGS,
        tags=["linkage"],
        doc_md="Links every current source record to a stable child id and publishes the index.",
    )
    def link() -> None:
        @task(outlets=[Asset(name="index__children", uri="ehe-index://children")])
        def link_children() -> dict[str, int]:
            from dataclasses import asdict

            return asdict(_pipeline().link_children())

        link_children()

    return link()
