"""Builders for the gateway's Airflow DAGs: configuration here, work in ``gateway.pipeline``.

Each source in the connector registry gets an ingest DAG with the connector's schedule and
pool; linkage and the validation report wait for any source's batches to reach the index.
Tasks pass batch ids, never data; heavy imports stay inside the tasks (cheap parsing).
Recovery (retry or fail, alerts) is in ``gateway.orchestration.tasks``.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, dag, task

from connectors.registry import CONNECTORS, connector_class
from gateway.orchestration.assets import any_index_asset, index_asset
from gateway.orchestration.connections import source_location
from gateway.orchestration.tasks import on_failure, on_retry, per_batch, run_step
from gateway.settings import settings
from gateway.sources import LINK_DAG_ID, ingest_dag_id

START = pendulum.datetime(2026, 1, 1, tz="Europe/London")
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    # Retries for retriable errors (fatal ones fail at once); `ehe-gateway run-dags` sets 0.
    "retries": settings().dag_retries,
    "retry_delay": timedelta(seconds=settings().dag_retry_delay_s),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=1),
    "on_failure_callback": on_failure,
    "on_retry_callback": on_retry,
}
EXTRACT_TIMEOUT = timedelta(minutes=settings().extract_timeout_min)
# What every DAG of the gateway shares (a DAG adds its schedule, tags and doc).
COMMON: dict[str, Any] = {"start_date": START, "catchup": False, "max_active_runs": 1}


def _pipeline() -> Any:
    """The pipeline stages, imported when a task runs (never at parse time), logging set up."""
    import gateway.pipeline
    from gateway.logs import configure_logging

    configure_logging()
    return gateway.pipeline


def all_sources() -> list[str]:
    return sorted(CONNECTORS)


def ingest_dags() -> dict[str, DAG]:
    """One ingest DAG per source of the registry, by DAG id."""
    return {ingest_dag_id(source): ingest_dag(source) for source in all_sources()}


def _doc(source: str) -> str:
    """The DAG's page in the Airflow UI: what the connector reads and how it is run."""
    cls = connector_class(source)
    module = sys.modules[cls.__module__].__doc__ or ""
    delivery = "a whole snapshot each time" if cls.full_snapshot else "changes"
    demo = "" if cls.in_demo else " Not in `ehe-gateway run-dags --all`: the demo has no server."
    return (
        f"### {source}\n\n{cls.description}.\n\nSchedule `{cls.schedule}`, pool `{cls.pool}`, "
        f"delivers {delivery}, stale after {cls.stale_after_hours:g} h.{demo}\n\n{module}"
    )


def ingest_dag(source: str) -> DAG:
    """One ingest DAG: land what is new, stage each batch, load each batch."""
    cls = connector_class(source)
    pool = cls.pool

    @dag(
        dag_id=ingest_dag_id(source),
        schedule=cls.schedule,
        **COMMON,
        default_args=DEFAULT_ARGS,
        tags=["ingest", cls.agency],
        doc_md=_doc(source),
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

    built: DAG = ingest()
    return built


def link_dag() -> DAG:
    """Link and publish whenever any source's batches reach the index."""

    @dag(
        dag_id=LINK_DAG_ID,
        schedule=any_index_asset(all_sources()),
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

    built: DAG = link()
    return built


def report_dag() -> DAG:
    """The IG officers' validation report, rebuilt whenever any source's batches are in."""

    @dag(
        dag_id="report__validation",
        schedule=any_index_asset(all_sources()),
        default_args=DEFAULT_ARGS,
        tags=["report"],
        doc_md="The validation report (`ehe-gateway report validation`), after every load.",
        **COMMON,
    )
    def report() -> None:
        @task
        def build_report() -> str:
            from gateway.reports.validation_report import build_scheduled_report

            return build_scheduled_report()

        build_report()

    built: DAG = report()
    return built
