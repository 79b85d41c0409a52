"""link history: link_event table; reviewers' decisions on link_review

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-29 10:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIONS = "('link', 'relink', 'merge', 'unmerge', 'accept', 'reject', 'reopen')"


def upgrade() -> None:
    op.create_table(
        "link_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("record_id", sa.String(length=120), nullable=True),
        sa.Column("child_before", sa.String(length=40), nullable=True),
        sa.Column("child_after", sa.String(length=40), nullable=True),
        sa.Column("origin", sa.String(length=8), nullable=True),
        sa.Column("rule", sa.String(length=40), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=True),
        sa.CheckConstraint(f"action IN {ACTIONS}", name=op.f("ck_link_event_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_event")),
    )
    with op.batch_alter_table("link_event") as batch_op:
        for column in ("child_before", "child_after", "review_id"):
            batch_op.create_index(batch_op.f(f"ix_link_event_{column}"), [column], unique=False)
    with op.batch_alter_table("link_review") as batch_op:
        batch_op.add_column(sa.Column("decided_by", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link_review") as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
    with op.batch_alter_table("link_event") as batch_op:
        for column in ("review_id", "child_after", "child_before"):
            batch_op.drop_index(batch_op.f(f"ix_link_event_{column}"))
    op.drop_table("link_event")
