"""audit sequence numbers are never reused: ``AUTOINCREMENT`` on SQLite

Without it SQLite gives a new row ``max(rowid) + 1``, so after the newest audit entry is
deleted the next entry takes its number, and a deletion reads as an ordinary append.
``AUTOINCREMENT`` keeps the highest number ever used (in ``sqlite_sequence``) and never hands it
out again. The table is rebuilt (``batch_alter_table``, recreate) with every row and number
kept; copying the rows in sets ``sqlite_sequence`` to the highest. PostgreSQL needs nothing:
``seq`` is a ``SERIAL`` whose sequence never goes back (``tests/test_audit_seq.py``).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 01:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "audit_log", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
