"""Airflow DAG ingest__education__ehe_register

The LA's elective home education register and children missing education list (CSV export).
"""

from ehe_dag_factory import ingest_dag

dag = ingest_dag("education__ehe_register", schedule="@daily", doc=__doc__ or "")
