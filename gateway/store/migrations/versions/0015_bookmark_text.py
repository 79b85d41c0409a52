"""source_bookmark.bookmark as text: a bookmark may hold more than an instant

Revision ID: 0015
Revises: 0013
Create Date: 2026-11-29 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_bookmark") as batch_op:
        batch_op.alter_column(
            "bookmark",
            existing_type=sa.String(length=120),
            type_=sa.Text(),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("source_bookmark") as batch_op:
        batch_op.alter_column(
            "bookmark",
            existing_type=sa.Text(),
            type_=sa.String(length=120),
            existing_nullable=False,
        )
