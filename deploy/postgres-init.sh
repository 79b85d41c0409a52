#!/usr/bin/env bash
# Two databases, two owners: Airflow's metadata never shares a database with the index.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE airflow LOGIN PASSWORD '${AIRFLOW_DB_PASSWORD}';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE ehe LOGIN PASSWORD '${EHE_DB_PASSWORD}';
CREATE DATABASE ehe_index OWNER ehe;
SQL
