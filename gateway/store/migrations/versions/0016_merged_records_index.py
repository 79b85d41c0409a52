"""a partial index of the source records an A40 merge retired (read by every incremental link)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 15:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WHERE = sa.text("merged_into_record_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_source_record_merged",
        "source_record",
        ["source", "record_id", "merged_into_record_id"],
        sqlite_where=WHERE,
        postgresql_where=WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_source_record_merged", table_name="source_record")
