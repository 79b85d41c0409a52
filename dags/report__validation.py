"""Airflow DAG report__validation: the IG officers' validation report, after every load."""

from gateway.orchestration.dags import report_dag

dag = report_dag()
