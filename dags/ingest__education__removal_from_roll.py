"""Airflow DAG ingest__education__removal_from_roll

Schools' notifications of pupils removed from roll (CSV from the LA portal).
"""

from ehe_dag_factory import ingest_dag

dag = ingest_dag("education__removal_from_roll", schedule="@daily", doc=__doc__ or "")
