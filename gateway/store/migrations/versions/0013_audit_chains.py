"""audit chains: the audit log as several hash chains (audit_log.chain, one head row each)

One chain head serialised every audited request behind one row lock, held until commit. With
several heads an append takes whichever head is free (on PostgreSQL), so concurrent lookups
no longer queue; each chain is still tamper-evident, and the verifier checks them all.
The entries before this revision are chain 1, whose head and genesis are unchanged.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 13:45:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CHAINS = 16


def _genesis(chain: int) -> str:
    """Chain 1 starts from zeros (as the single chain did); each other from its own value,
    so that an entry moved between chains breaks a link (gateway.access.audit.genesis)."""
    if chain == 1:
        return "0" * 64
    return hashlib.sha256(f"ehe-gateway audit chain {chain}".encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(
            sa.Column("chain", sa.SmallInteger(), nullable=False, server_default="1")
        )
    heads = sa.table(
        "audit_head",
        sa.column("id", sa.Integer()),
        sa.column("prev_hash", sa.String()),
        sa.column("entry_hash", sa.String()),
    )
    op.bulk_insert(
        heads,
        [
            {"id": chain, "prev_hash": "", "entry_hash": _genesis(chain)}
            for chain in range(2, CHAINS + 1)
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM audit_head WHERE id > 1")
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_column("chain")
