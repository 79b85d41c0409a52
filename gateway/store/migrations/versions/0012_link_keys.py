"""incremental linking: link_key (blocking keys per linked record) and link_mark

Revision ID: 0012
Revises: 0006
Create Date: 2026-11-29 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_key",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("record_id", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_key")),
    )
    with op.batch_alter_table("link_key") as batch_op:
        batch_op.create_index(batch_op.f("ix_link_key_key"), ["key"], unique=False)
        batch_op.create_index("ix_link_key_record", ["source", "record_id"], unique=False)
    op.create_table(
        "link_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_source_row", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_mark")),
    )


def downgrade() -> None:
    op.drop_table("link_mark")
    with op.batch_alter_table("link_key") as batch_op:
        batch_op.drop_index("ix_link_key_record")
        batch_op.drop_index(batch_op.f("ix_link_key_key"))
    op.drop_table("link_key")
