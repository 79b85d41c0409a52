"""Create and upgrade the index schema with Alembic (never ``create_all`` outside tests of it)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from gateway import config
from gateway.store.engine import normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would read '%' in passwords as a placeholder.
    cfg.set_main_option(
        "sqlalchemy.url", normalise_url(url or config.index_url()).replace("%", "%%")
    )
    return cfg


def current_revision(url: str | None = None) -> str | None:
    """The index's schema revision, None when it has no schema yet."""
    from alembic.runtime.migration import MigrationContext

    from gateway.store.engine import engine_for

    with engine_for(url or config.index_url()).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision the migrations define."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "no migrations"
    return head


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
