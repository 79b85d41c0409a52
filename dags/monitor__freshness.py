"""Airflow DAG monitor__freshness: alerts when a source has sent no good batch for too long."""

from gateway.orchestration.freshness import freshness_dag

dag = freshness_dag()
