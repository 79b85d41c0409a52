"""Airflow DAG monitor__freshness: alerts when a source has sent no good batch for too long."""

from ehe_dag_factory import SOURCES
from ehe_monitoring import freshness_dag

dag = freshness_dag(SOURCES)
