"""Airflow DAG notify__teams: alerts about EHE children to the team inboxes, after linkage."""

from gateway.orchestration.notify import notify_dag

dag = notify_dag()
