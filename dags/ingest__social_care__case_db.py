"""Airflow DAG ingest__social_care__case_db

People known to children's social care, read incrementally from the case-management database.
"""

from ehe_dag_factory import ingest_dag

dag = ingest_dag("social_care__case_db", schedule="@hourly", doc=__doc__ or "")
