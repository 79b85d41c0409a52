"""Alembic environment: the index tables, on whatever URL the caller configured."""

from __future__ import annotations

from alembic import context

from gateway.store.engine import engine_for
from gateway.store.tables import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    with engine_for(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
