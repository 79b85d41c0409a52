"""Airflow DAG ingest__health__fhir_api

Patients and their Encounters from a FHIR R4 REST API (OAuth2 client credentials), read
incrementally by _lastUpdated. Settings come from the environment of the workers:
EHE_SOURCE_HEALTH__FHIR_API_URL, _TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET. Not in
`ehe-gateway run-dags --all`: the demo has no FHIR server.
"""

from ehe_dag_factory import ingest_dag

dag = ingest_dag("health__fhir_api", schedule="@hourly", doc=__doc__ or "")
