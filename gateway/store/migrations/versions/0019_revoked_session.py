"""sign-out ends a session for every API worker: the revoked-session table

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_session",
        sa.Column("session_key", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("session_key", name=op.f("pk_revoked_session")),
    )
    op.create_index(op.f("ix_revoked_session_expires_at"), "revoked_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_revoked_session_expires_at"), table_name="revoked_session")
    op.drop_table("revoked_session")
