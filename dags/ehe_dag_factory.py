"""Builders for the gateway's Airflow DAGs: configuration here, work in ``gateway.pipeline``.

Tasks pass batch ids, never data; heavy imports stay inside the tasks (cheap parsing).
Recovery (retry or fail, alerts) is in ``ehe_tasks``."""

from __future__ import annotations

import functools
import os
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task
from ehe_assets import any_index_asset, index_asset
from ehe_connections import source_location
from ehe_tasks import on_failure, on_retry, per_batch, pool_for, run_step

# Every source with an ingest DAG (a test checks this against the connector registry).
SOURCES = [
    "education__ctf",
    "education__ehe_register",
    "education__removal_from_roll",
    "health__fhir_patient",
    "health__hl7v2_adt",
    "social_care__case_db",
    "social_care__cin_census",
    "social_care__ssda903",
]
# Sources read from a network API: their DAGs run where a server is configured (not the demo).
API_SOURCES = ["health__fhir_api"]
START = pendulum.datetime(2026, 1, 1, tz="Europe/London")
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    # Retries for retriable errors (fatal ones fail at once); `ehe-gateway run-dags` sets 0.
    "retries": int(os.environ.get("EHE_DAG_RETRIES", "3")),
    "retry_delay": timedelta(seconds=int(os.environ.get("EHE_DAG_RETRY_DELAY_S", "120"))),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=1),
    "on_failure_callback": on_failure,
    "on_retry_callback": on_retry,
}
EXTRACT_TIMEOUT = timedelta(minutes=int(os.environ.get("EHE_EXTRACT_TIMEOUT_MIN", "30")))
# What every DAG of the gateway shares (a DAG file adds its schedule, tags and doc).
COMMON: dict[str, Any] = {"start_date": START, "catchup": False, "max_active_runs": 1}


def _pipeline() -> Any:
    """The pipeline stages, imported when a task runs (never at parse time), logging set up."""
    import gateway.pipeline
    from gateway.logs import configure_logging

    configure_logging()
    return gateway.pipeline


def ingest_dag(source: str, schedule: str, doc: str) -> Any:
    """One ingest DAG: land what is new, stage each batch, load each batch."""
    agency = source.split("__", 1)[0]
    pool = pool_for(source)

    @dag(
        dag_id=f"ingest__{source}",
        schedule=schedule,
        **COMMON,
        default_args=DEFAULT_ARGS,
        tags=["ingest", agency],
        doc_md=doc,
    )
    def ingest() -> None:
        @task(pool=pool, execution_timeout=EXTRACT_TIMEOUT)
        def land() -> list[str]:
            land_source = functools.partial(
                _pipeline().land_source, source, **source_location(source)
            )
            return list(run_step(source, None, land_source, "land_source"))

        @task(pool=pool)
        def stage(batch_ids: list[str]) -> list[str]:
            per_batch(source, batch_ids, _pipeline().stage_batch)
            return batch_ids

        @task(pool=pool, outlets=[index_asset(source)])
        def load(batch_ids: list[str]) -> list[dict[str, object]]:
            return [a.as_dict() for a in per_batch(source, batch_ids, _pipeline().load_batch)]

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
        @task(
            outlets=[Asset(name="index__children", uri="ehe-index://children")],
            execution_timeout=timedelta(hours=2),
        )
        def link_children() -> dict[str, int]:
            return asdict(run_step("(all)", None, _pipeline().link_children, "link_children"))

        link_children()

    return link()
