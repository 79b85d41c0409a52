"""quarantine_identifier: the identifiers of records held by validation, indexed by (kind, value);
link_review indexed by its right-hand record

Backfilled here from the records already held (their payloads parsed with the same function
the loader uses when it holds a record), so the read model's indexed lookup finds them from the
first request after the upgrade, with no write on a read path.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    from gateway.store.tables.quarantine import INDEXED_STAGE, held_identifier_rows

    table = op.create_table(
        "quarantine_identifier",
        sa.Column("held_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=90), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["held_id"],
            ["quarantine.id"],
            name=op.f("fk_quarantine_identifier_held_id_quarantine"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("held_id", "kind", "value", name=op.f("pk_quarantine_identifier")),
    )
    op.create_index("ix_quarantine_identifier_key", "quarantine_identifier", ["kind", "value"])
    # The review pairs touching a record from its right side, indexed as the left side is.
    op.create_index("ix_link_review_right", "link_review", ["right_source", "right_record_id"])
    held = sa.table(
        "quarantine", sa.column("id"), sa.column("stage"), sa.column("payload", sa.Text())
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(held.c.id, held.c.stage, held.c.payload)
        .where(held.c.stage == INDEXED_STAGE)
        .order_by(held.c.id)
    )
    keys = [key for row in rows for key in held_identifier_rows(*row)]
    for start in range(0, len(keys), BATCH):
        connection.execute(sa.insert(table), keys[start : start + BATCH])


def downgrade() -> None:
    op.drop_index("ix_link_review_right", table_name="link_review")
    op.drop_index("ix_quarantine_identifier_key", table_name="quarantine_identifier")
    op.drop_table("quarantine_identifier")
