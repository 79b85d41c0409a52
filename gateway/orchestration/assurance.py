"""Builder of the monthly assurance report DAG: the partnership assurance report for the last
twelve months to the end of last month, written to the reports folder.

The work is ``gateway.reports.assurance_render.build_monthly_report``; the task's XCom holds the
report's path only (counts stay in the report).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from gateway.orchestration.dags import COMMON, DEFAULT_ARGS
from gateway.orchestration.tasks import run_step

DAG_ID = "report__assurance"
DOC = """
### report__assurance

On the first day of every month: the partnership assurance report for the twelve months to the
end of last month (per month and quarter: the EHE register, GP and social care, real contacts
by agency, children flagged unseen, removal from roll to the first check, each source's
freshness and data quality), counts only with small numbers suppressed, written to the reports
folder (`EHE_REPORTS_DIR`, default `data/reports`) as `assurance/assurance.html`,
`assurance/assurance.csv` and, where chromium is installed, `assurance/assurance.pdf`.

| | |
| --- | --- |
| reads | the index (through the read model), the audit log, batches and validation runs |
| pool | `default_pool` |
| failure | the index out of reach, or the reports folder not writable: retried |

By hand, for any period: `ehe-gateway report assurance --from DATE --to DATE --out DIR`.
"""
TASK_DOC = """Builds the assurance report for the last twelve months; returns its path."""


def assurance_dag() -> Any:
    @dag(
        dag_id=DAG_ID,
        schedule="@monthly",
        **COMMON,
        default_args=DEFAULT_ARGS,
        tags=["report"],
        doc_md=DOC,
    )
    def assurance() -> None:
        @task(task_id="build_assurance_report", doc_md=TASK_DOC)
        def build_assurance_report() -> str:
            from gateway.logs import configure_logging

            configure_logging()
            from gateway.reports.assurance_render import build_monthly_report

            path: str = run_step("(all)", None, build_monthly_report, "build_assurance_report")
            return path

        build_assurance_report()

    return assurance()
