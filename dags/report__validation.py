"""Airflow DAG report__validation: the IG officers' validation report, after every publish."""

from airflow.sdk import dag, task
from ehe_assets import any_index_asset
from ehe_dag_factory import COMMON, DEFAULT_ARGS, SOURCES


@dag(schedule=any_index_asset(SOURCES), default_args=DEFAULT_ARGS, tags=["report"], **COMMON)
def report__validation() -> None:
    @task
    def build_report() -> str:
        from gateway.reports.validation_report import build_scheduled_report

        return build_scheduled_report()

    build_report()


report__validation()
