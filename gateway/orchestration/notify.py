"""Builder of the alerts DAG: once linkage has published the children, find the events about
EHE children and alert the team inboxes the agreements name (``gateway.notify.run``).

The task's XCom holds counts only (inboxes, events, new notifications, sent, failed)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from airflow.sdk import dag, task

from gateway.orchestration.assets import CHILDREN
from gateway.orchestration.dags import COMMON, DEFAULT_ARGS
from gateway.orchestration.tasks import run_step

DAG_ID = "notify__teams"
DOC = """
### Alerts to team inboxes

After every linkage (the `index__children` Asset), find the events about children in elective
home education and alert the team inboxes the data-sharing agreements name (`inboxes:`):
removed from roll to home education while known to social care or on a plan; became known to
social care while home educated; unseen by any agency for `EHE_NOTIFY_UNSEEN_MONTHS`; a record
about the child held for more than `EHE_NOTIFY_HELD_DAYS`.

- Each event is alerted **once per inbox, ever**: a re-run adds nothing.
- Each alert goes by email (SMTP, or `.eml` files in the outbox without `EHE_SMTP_HOST`) and by
  webhook where the inbox names one; every attempt is audited. A failed delivery is kept and
  tried again with backoff on the next runs (`ehe-gateway notify list --failed`).
- An alert holds the child's id, the event, the date and a link: never a name or any detail.
"""


def notify_dag() -> Any:
    @dag(
        dag_id=DAG_ID,
        schedule=[CHILDREN],
        default_args=DEFAULT_ARGS,
        tags=["alerts"],
        doc_md=DOC,
        **COMMON,
    )
    def notify_teams() -> None:
        @task(task_id="notify")
        def notify() -> dict[str, int]:
            from gateway.logs import configure_logging

            configure_logging()
            from gateway.notify.run import notify_teams as run

            return asdict(run_step("(all)", None, run, "notify_teams"))

        notify()

    return notify_teams()
