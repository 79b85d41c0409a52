"""source record merges: merged_into_record_id, set by an HL7 A40 merge on the retired record

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_record") as batch_op:
        batch_op.add_column(sa.Column("merged_into_record_id", sa.String(120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_record") as batch_op:
        batch_op.drop_column("merged_into_record_id")
