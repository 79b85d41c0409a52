"""a batch counts what its file held that is not a record of its stream, by kind

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch") as batch:
        batch.add_column(sa.Column("not_read", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("not_read_kinds", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch") as batch:
        batch.drop_column("not_read_kinds")
        batch.drop_column("not_read")
