"""a possible match says why it is queued when an identifier's demographics contradict it

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_review") as batch:
        batch.add_column(sa.Column("conflict", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link_review") as batch:
        batch.drop_column("conflict")
