"""Airflow DAG link__children: runs when any source's batches reach the index."""

from ehe_dag_factory import SOURCES, link_dag

dag = link_dag(SOURCES)
