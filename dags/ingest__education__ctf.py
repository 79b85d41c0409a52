"""Airflow DAG ingest__education__ctf

Common Transfer Files sent by schools when pupils leave their roll (CTF XML, from the LA inbox).
"""

from ehe_dag_factory import ingest_dag

dag = ingest_dag("education__ctf", schedule="@hourly", doc=__doc__ or "")
