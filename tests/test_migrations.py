"""Alembic migrations build exactly the tables the models declare, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gateway.store.engine import engine_for
from gateway.store.migrate import downgrade, upgrade
from gateway.store.tables import Base


def test_schema_matches_models(index_url: str) -> None:
    with engine_for(index_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(index_url: str) -> None:
    downgrade(index_url, "base")
    assert set(inspect(engine_for(index_url)).get_table_names()) <= {"alembic_version"}
    upgrade(index_url)
    assert "source_record" in inspect(engine_for(index_url)).get_table_names()
