"""Airflow DAG ingest__social_care__ssda903

The SSDA903 looked-after children return (header table CSV, or the XML return).
"""

from ehe_dag_factory import ingest_dag

dag = ingest_dag("social_care__ssda903", schedule="@weekly", doc=__doc__ or "")
