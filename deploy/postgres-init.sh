#!/usr/bin/env bash
# Three databases, three owners: Airflow's metadata never shares a database with the index,
# and Keycloak (the identity provider) keeps its own.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE airflow LOGIN PASSWORD '${AIRFLOW_DB_PASSWORD}';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE ehe LOGIN PASSWORD '${EHE_DB_PASSWORD}';
CREATE DATABASE ehe_index OWNER ehe;
CREATE ROLE keycloak LOGIN PASSWORD '${KC_DB_PASSWORD}';
CREATE DATABASE keycloak OWNER keycloak;
SQL
