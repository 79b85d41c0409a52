"""Airflow DAG link__children: runs when any source's batches reach the index."""

from gateway.orchestration.dags import link_dag

dag = link_dag()
