"""Airflow's side of the gateway: the DAG builders the files in ``dags/`` call, the task-side
helpers, and the demo's in-process DAG runner.

The only package that imports Airflow. The core (``gateway`` outside this package,
``connectors``) never imports it; tasks import the core's stages when they run, never at parse
time. Everything it schedules comes from the connector registry (``connectors/registry.py``).
"""
