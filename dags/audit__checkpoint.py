"""Airflow DAG audit__checkpoint: hourly, verify the audit log and sign a checkpoint of it."""

from gateway.orchestration.audit import audit_checkpoint_dag

dag = audit_checkpoint_dag()
