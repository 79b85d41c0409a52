"""Builder of the freshness DAG: one check per source, failing (and alerting) when stale.

Not a DAG file (.airflowignore). The check's XCom holds the source's figures (age of its last
good batch, threshold), so the Airflow UI shows them; the API's ``/metrics`` has the rest.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task
from ehe_dag_factory import DEFAULT_ARGS, START
from ehe_tasks import run_step

DOC = """
### Source freshness

Every hour, one task per source checks how long ago its last **good batch** (one loaded into
the index) was. A source past its threshold fails its task at once (no retries) and the failure
callback raises a `stale_source` alert naming the source: look at that source's ingest DAG.

Thresholds: `gateway/monitoring/freshness.py`, overridden per source with
`EHE_STALE_AFTER_HOURS_<SOURCE>`. Record counts, quarantine rates and durations per source are
on the gateway API's Prometheus endpoint, `GET /metrics`.
"""


def freshness_dag(sources: list[str]) -> Any:
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
        for source in sources:

            @task(task_id=f"fresh__{source}")
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
