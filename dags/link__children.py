"""Airflow DAG link__children: runs when any source's batches reach the index."""

from ehe_dag_factory import API_SOURCES, SOURCES, link_dag

dag = link_dag(SOURCES + API_SOURCES)
