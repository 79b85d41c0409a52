"""The Prometheus endpoint, scraped over real HTTP: figures agree with the index's accounting."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from api_server import bearer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gateway.api.app import create_app
from gateway.monitoring.alerts import Alert, raise_alert
from gateway.pipeline import accounting_rows, ingest, link_children
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.tables import SourceRecord

LOADED = ("education__ehe_register", "social_care__case_db")


@pytest.fixture
def served(index_url: str, inbox: Path) -> Iterator[str]:
    for source in LOADED:
        ingest(source, index_url=index_url)
    link_children(index_url)
    server = uvicorn.Server(
        uvicorn.Config(create_app(index_url), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _scrape(base: str) -> dict[tuple[str, str], float]:
    assert httpx.get(f"{base}/metrics", timeout=20).status_code == 401  # no token, no figures
    refused = httpx.get(f"{base}/metrics", headers=bearer("erin.ehe"), timeout=20)
    assert refused.status_code == 403
    response = httpx.get(f"{base}/metrics", headers=bearer("dev.data"), timeout=20)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            label = sample.labels.get("source") or sample.labels.get("kind") or ""
            out[sample.name, label] = sample.value
    return out


def test_metrics_endpoint_reports_each_source(served: str, index_url: str) -> None:
    raise_alert(Alert(kind="stale_source", source="health__hl7v2_adt", reason="test"))
    figures = _scrape(served)
    rows = accounting_rows(index_url)
    for source in LOADED:
        mine = [r for r in rows if r.source == source]
        received = sum(r.received for r in mine)
        assert figures["ehe_source_batches", source] == len(mine)
        assert figures["ehe_source_records_received", source] == received > 0
        assert figures["ehe_source_records_loaded", source] == sum(r.loaded for r in mine)
        quarantined = sum(r.quarantined for r in mine)
        assert figures["ehe_source_records_quarantined", source] == quarantined
        assert figures["ehe_source_quarantine_rate", source] == pytest.approx(
            quarantined / received
        )
        assert 0 <= figures["ehe_source_last_good_batch_age_seconds", source] < 600
        assert figures["ehe_source_stale", source] == 0
        assert figures["ehe_source_last_batch_duration_seconds", source] >= 0
    for source in set(source_names()) - set(LOADED):
        assert figures["ehe_source_batches", source] == 0
        assert math.isnan(figures["ehe_source_last_good_batch_age_seconds", source])
        assert figures["ehe_source_stale", source] == 1
    assert figures["ehe_source_stale_after_seconds", "health__hl7v2_adt"] == 6 * 3600
    with session_factory(index_url)() as session:
        current = session.scalar(
            select(func.count()).select_from(SourceRecord).where(SourceRecord.is_current)
        )
    assert figures["ehe_index_current_records", ""] == current > 0
    assert figures["ehe_index_children", ""] > 0
    assert figures["ehe_alerts", "stale_source"] == 1
    assert figures["ehe_alerts", "task_failed"] == 0
