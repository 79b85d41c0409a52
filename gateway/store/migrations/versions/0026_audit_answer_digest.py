"""audit_log.answer_digest: SHA-256 of the answer a lookup showed, for replays to compare with

Nullable: entries written before it (and entries that show no values) have none, and their
hashes are unchanged (the entry's canonical JSON names the digest only when there is one).

Revision ID: 0026
Revises: 0023
Create Date: 2026-12-05 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("answer_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_column("answer_digest")
