"""``GET /metrics``: the pipeline's figures in Prometheus' text format (prometheus-client).

Each scrape reads the index afresh (a custom collector on a registry of its own), so several
API processes report the same figures. Counts, rates and times per source only. No
``from __future__ import annotations``: FastAPI must see the route's annotations as objects.
"""

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from gateway.api.deps import require_role
from gateway.monitoring.metrics import IndexMetrics, index_metrics
from gateway.store.engine import session_factory

PER_SOURCE = (
    ("ehe_source_batches", "Good batches loaded", "batches"),
    ("ehe_source_records_received", "Records received in good batches", "received"),
    ("ehe_source_records_loaded", "Records loaded into the index", "loaded"),
    ("ehe_source_records_quarantined", "Records quarantined on receipt", "quarantined"),
    ("ehe_source_records_rejected", "Records rejected as unreadable", "rejected"),
    (
        "ehe_source_items_not_read",
        "Items kept in good batches that are not records of the stream",
        "not_read",
    ),
    ("ehe_source_held_now", "Items still waiting in quarantine", "held_now"),
    ("ehe_source_quarantine_rate", "Share of received records quarantined", "quarantine_rate"),
    (
        "ehe_source_last_good_batch_age_seconds",
        "Seconds since the source's last good batch (NaN if none yet)",
        "last_good_age_seconds",
    ),
    ("ehe_source_stale_after_seconds", "Freshness threshold", "stale_after_seconds"),
    ("ehe_source_stale", "1 if the source is past its freshness threshold", "stale"),
    (
        "ehe_source_last_batch_duration_seconds",
        "Landing to loaded, for the source's latest good batch (NaN if none yet)",
        "last_batch_seconds",
    ),
)


class IndexCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            figures = index_metrics(session)
        yield from _per_source(figures)
        yield GaugeMetricFamily(
            "ehe_index_current_records", "Current source records", value=figures.current_records
        )
        yield GaugeMetricFamily("ehe_index_children", "Children in the index", figures.children)
        alerts = GaugeMetricFamily(
            "ehe_alerts", "Alerts raised by the orchestrator, by kind", labels=["kind"]
        )
        for kind in ("task_failed", "stale_source"):
            alerts.add_metric([kind], figures.alerts.get(kind, 0))
        yield alerts


def _per_source(figures: IndexMetrics) -> Iterator[Metric]:
    for name, help_text, attribute in PER_SOURCE:
        family = GaugeMetricFamily(name, help_text, labels=["source"])
        for item in figures.sources:
            value = getattr(item, attribute)
            family.add_metric([item.source], float("nan") if value is None else float(value))
        yield family


METRICS_ROLES = ("data_engineer", "admin")


def metrics_router(index_url: str | None = None) -> APIRouter:
    """``/metrics`` for Prometheus, behind a bearer token of a data engineer or an admin (a
    scrape job's ``authorization`` credentials); ``/healthz`` for probes, saying nothing."""
    router = APIRouter()
    sessions = session_factory(index_url)

    @router.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/metrics",
        include_in_schema=False,
        dependencies=[Depends(require_role(*METRICS_ROLES))],
    )
    def metrics() -> Response:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(IndexCollector(sessions))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
