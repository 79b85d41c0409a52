"""Airflow DAG ingest__health__hl7v2_adt

HL7 v2 ADT messages from patient administration systems (drop folder).
"""

from ehe_dag_factory import ingest_dag

dag = ingest_dag("health__hl7v2_adt", schedule="*/15 * * * *", doc=__doc__ or "")
