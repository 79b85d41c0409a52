"""Builders for the gateway's Airflow DAGs: configuration here, work in ``gateway.pipeline``.

Each source in the connector registry gets an ingest DAG with the connector's schedule, pool
and arrival deadline; linkage waits for any source's batches to reach the index, and the
validation report for linkage (``assets``). Every DAG and task has its page (``docs``).
Tasks pass batch ids, never data; heavy imports stay inside the tasks (cheap parsing).
Recovery (retry or fail, alerts) is in ``gateway.orchestration.tasks``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, dag, get_current_context, task

from connectors.registry import CONNECTORS, connector_class
from gateway.orchestration import docs
from gateway.orchestration.assets import CHILDREN, any_index_asset, index_asset
from gateway.orchestration.deadlines import arrival_deadline
from gateway.orchestration.outcomes import held_reason, land_step, load_outcome, report_links
from gateway.orchestration.tasks import BatchesHeld, on_failure, on_retry, per_batch, run_step
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


log = logging.getLogger(__name__)


def _pipeline() -> Any:
    """The pipeline stages, imported when a task runs (never at parse time), logging set up
    first: importing Great Expectations logs hundreds of INFO lines the task log need not hold."""
    from gateway.logs import configure_logging

    configure_logging()
    import gateway.pipeline

    return gateway.pipeline


def all_sources() -> list[str]:
    return sorted(CONNECTORS)


def ingest_dags() -> dict[str, DAG]:
    """One ingest DAG per source of the registry, by DAG id."""
    return {ingest_dag_id(source): ingest_dag(source) for source in all_sources()}


def ingest_dag(source: str) -> DAG:
    """One ingest DAG: land what is new, stage each batch, load each batch."""
    cls = connector_class(source)
    pool = cls.pool
    asset = index_asset(source)

    @dag(
        dag_id=ingest_dag_id(source),
        schedule=cls.schedule,
        **COMMON,
        default_args=DEFAULT_ARGS,
        tags=["ingest", cls.agency],
        doc_md=docs.ingest_doc(source),
        deadline=arrival_deadline(source),
    )
    def ingest() -> None:
        @task(pool=pool, execution_timeout=EXTRACT_TIMEOUT, doc_md=docs.LAND_DOC)
        def land() -> list[str]:
            step = land_step(source, _pipeline().land_source)
            return list(run_step(source, None, step, "land_source"))

        @task(pool=pool, doc_md=docs.STAGE_DOC)
        def stage(batch_ids: list[str]) -> list[str]:
            per_batch(source, batch_ids, _pipeline().stage_batch)
            for name, path in report_links().items():
                log.info("%s: %s", name, path)
            return batch_ids

        @task(pool=pool, outlets=[asset], doc_md=docs.LOAD_DOC)
        def load(batch_ids: list[str]) -> list[dict[str, object]]:
            results = per_batch(source, batch_ids, _pipeline().load_batch)
            extra = load_outcome(source, results)
            get_current_context()["outlet_events"][asset].extra = extra
            return [a.as_dict() for a in results]

        @task(pool=pool, retries=0, doc_md=docs.HELD_DOC)
        def held(loaded: list[dict[str, object]]) -> None:
            # After load, so the Asset event (the good batches) is already published: the run
            # fails, and shows as failed, without holding back the rest of the feed.
            reason = held_reason(source, loaded)
            if reason:
                raise BatchesHeld(reason)

        held(load(stage(land())))

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
        doc_md=docs.LINK_DOC,
    )
    def link() -> None:
        @task(outlets=[CHILDREN], execution_timeout=timedelta(hours=2), doc_md=docs.LINK_TASK_DOC)
        def link_children() -> dict[str, int]:
            counts = asdict(run_step("(all)", None, _pipeline().link_children, "link_children"))
            get_current_context()["outlet_events"][CHILDREN].extra = counts
            return counts

        link_children()

    built: DAG = link()
    return built


def report_dag() -> DAG:
    """The IG officers' validation report, rebuilt once linkage has published the children."""

    @dag(
        dag_id="report__validation",
        schedule=[CHILDREN],
        default_args=DEFAULT_ARGS,
        tags=["report"],
        doc_md=docs.REPORT_DOC,
        **COMMON,
    )
    def report() -> None:
        @task(doc_md=docs.REPORT_TASK_DOC)
        def build_report() -> dict[str, str]:
            from gateway.logs import configure_logging

            configure_logging()  # before GX is imported: its registry chatter stays out
            from gateway.reports.validation_report import build_scheduled_report

            run_step("(all)", None, build_scheduled_report, "build_report")
            links = report_links()
            for name, path in links.items():
                log.info("%s: %s", name, path)
            return links

        build_report()

    built: DAG = report()
    return built
