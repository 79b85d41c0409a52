"""accepting a twin-shaped or conflicting pair takes two reviewers: the first accept is kept

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_review") as batch:
        batch.add_column(sa.Column("first_accepted_by", sa.String(120), nullable=True))
        batch.add_column(sa.Column("first_accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_reason", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link_review") as batch:
        batch.drop_column("first_reason")
        batch.drop_column("first_accepted_at")
        batch.drop_column("first_accepted_by")
