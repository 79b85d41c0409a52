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


def test_states_outside_the_model_are_refused(index_url: str) -> None:
    """CHECK constraints: a link's state and origin, a held record's status, are from the model."""
    import pytest
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from gateway.store.tables import Child, Link

    engine = engine_for(index_url)
    with engine.begin() as conn:
        conn.execute(insert(Child).values(child_id="C-1", restricted=False))
    row = {
        "source": "s",
        "record_id": "r",
        "child_id": "C-1",
        "state": "MAYBE",
        "origin": "AUTO",
        "rule": "x",
        "evidence": {},
    }
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(Link).values(**row))
    with engine.begin() as conn:
        conn.execute(insert(Link).values(**{**row, "state": "MATCH"}))
