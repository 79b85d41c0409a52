"""Airflow DAGs ingest__<source>: one per source of the connector registry.

Each lands what is new from its source, stages each batch and loads it; its schedule, pool and
doc come from the connector (``ehe-gateway sources`` lists them; ``connectors/registry.py``).
"""

from gateway.orchestration.dags import ingest_dags

globals().update(ingest_dags())
