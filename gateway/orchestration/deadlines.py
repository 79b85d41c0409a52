"""Deadline alerts (Airflow 3): an ingest run not finished by its source's expected arrival
raises ``late_arrival`` on the alert channel the freshness monitor uses (``raise_alert``).

The deadline is ``EHE_ARRIVAL_DEADLINE_HOURS`` after the run's logical date (its scheduled
time). Airflow's scheduler records the deadline when it creates the run and, when it passes
first, the triggerer awaits ``late_arrival`` (an ``AsyncCallback``); a run that finishes in
time clears it. ``dag.test()`` (the demo) makes runs without a scheduler, so none fire there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from gateway.settings import settings

KIND = "late_arrival"


def arrival_deadline(source: str) -> DeadlineAlert | None:
    """The deadline alert of one source's ingest DAG; none when the setting is 0 (Airflow
    3.3.2's ``airflow dags test`` fails a successful run of a DAG that has one)."""
    if settings().arrival_deadline_hours <= 0:
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=timedelta(hours=settings().arrival_deadline_hours),
        callback=AsyncCallback(late_arrival, kwargs={"source": source}),
        name=f"{KIND}__{source}",
    )


async def late_arrival(source: str, context: dict[str, Any] | None = None) -> None:
    """The deadline passed with the run unfinished: alert (the freshness channel)."""
    from gateway.monitoring.alerts import Alert, raise_alert

    run = (context or {}).get("dag_run") or {}
    hours = settings().arrival_deadline_hours
    raise_alert(
        Alert(
            kind=KIND,
            source=source,
            reason=f"{source}: its ingest run had not finished {hours:g} h after its "
            "scheduled time; look at the run's land task and the source system",
            dag_id=run.get("dag_id"),
            task_id=None,
        )
    )
