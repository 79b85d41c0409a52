"""consent with its evidence: who gave it (relation), when, how, a reference, who recorded it

``given_at`` held the time the consent was recorded, so it becomes ``recorded_at``; the day
the family gave it is ``given_on``. Consents recorded before this revision have no evidence
(the new columns are empty for them); every new one must have it (gateway.access.consent).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 01:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

CHECKS = {
    "given_by": "given_by IN ('parent', 'carer', 'young_person')",
    "method": "method IN ('written', 'verbal', 'electronic')",
}
COLUMNS = (
    sa.Column("given_by", sa.String(20), nullable=True),
    sa.Column("given_on", sa.Date(), nullable=True),
    sa.Column("method", sa.String(20), nullable=True),
    sa.Column("evidence_ref", sa.String(200), nullable=True),
    sa.Column("recorded_by_organisation", sa.String(120), nullable=True),
    sa.Column("recorded_by_role", sa.String(40), nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table("consent") as batch:
        batch.alter_column("given_at", new_column_name="recorded_at")
        for column in COLUMNS:
            batch.add_column(column.copy())
        for name, condition in CHECKS.items():
            batch.create_check_constraint(op.f(f"ck_consent_{name}"), condition)


def downgrade() -> None:
    with op.batch_alter_table("consent") as batch:
        for name in CHECKS:
            batch.drop_constraint(op.f(f"ck_consent_{name}"), type_="check")
        for column in COLUMNS:
            batch.drop_column(column.name)
        batch.alter_column("recorded_at", new_column_name="given_at")
