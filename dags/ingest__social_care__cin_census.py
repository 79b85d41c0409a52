"""Airflow DAG ingest__social_care__cin_census

The DfE Children in Need census return (XML).
"""

from ehe_dag_factory import ingest_dag

dag = ingest_dag("social_care__cin_census", schedule="@weekly", doc=__doc__ or "")
