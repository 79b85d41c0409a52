"""Builder of the freshness DAG: one check per source, failing (and alerting) when stale.

The check's XCom holds the source's figures (age of its last
good batch, threshold), so the Airflow UI shows them; the API's ``/metrics`` has the rest.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from gateway.orchestration.dags import DEFAULT_ARGS, START
from gateway.orchestration.tasks import run_step
from gateway.sources import source_names

DOC = """
### Source freshness

Every hour, one task per source checks how long ago its last **good batch** (one loaded into
the index) was. A source past its threshold fails its task at once (no retries) and the failure
callback raises a `stale_source` alert naming the source: look at that source's ingest DAG.

Thresholds: each connector's `stale_after_hours` (`connectors/`), overridden per source
with `EHE_STALE_AFTER_HOURS_<SOURCE>`. Record counts, quarantine rates and durations per source are
on the gateway API's Prometheus endpoint, `GET /metrics`.
"""

FRESH_TASK_DOC = """How long ago `{source}` last sent a good batch, against its threshold. Fails
at once (no retries) when stale, raising `stale_source`. Runbook: open `ingest__{source}` (its last
runs, its land task's log: the path or URL read), then `ehe-gateway accounting` and
`ehe-gateway quarantine list --source {source} --status gated`."""


def freshness_dag() -> Any:
    """One check per source the freshness monitor watches (the sources the demo runs)."""

    @dag(
        dag_id="monitor__freshness",
        schedule="@hourly",
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "execution_timeout": timedelta(minutes=5)},
        tags=["monitoring"],
        doc_md=DOC,
    )
    def monitor() -> None:
        for source in source_names():

            @task(task_id=f"fresh__{source}", doc_md=FRESH_TASK_DOC.format(source=source))
            def fresh(source: str = source) -> dict[str, object]:
                from gateway.monitoring.freshness import check_freshness

                item = run_step(source, None, lambda: check_freshness(source))
                return {
                    "source": source,
                    "age_seconds": item.age_seconds,
                    "threshold_seconds": item.threshold_seconds,
                }

            fresh()

    return monitor()
