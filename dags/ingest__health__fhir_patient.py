"""Airflow DAG ingest__health__fhir_patient

FHIR R4 UK Core Patient resources (bulk NDJSON export) from health systems.
"""

from ehe_dag_factory import ingest_dag

dag = ingest_dag("health__fhir_patient", schedule="@hourly", doc=__doc__ or "")
