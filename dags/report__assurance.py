"""Airflow DAG report__assurance: the partnership assurance report, monthly."""

from gateway.orchestration.assurance import assurance_dag

dag = assurance_dag()
