"""access policy: consent, break-glass, agreement clause in the audit, audit append-only on PG

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-29 10:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# On PostgreSQL no one using the application's connections may change or remove an audit row:
# UPDATE, DELETE and TRUNCATE raise. (Tampering then needs a superuser disabling the trigger,
# which `ehe-gateway audit verify` would still catch through the hash chain.)
APPEND_ONLY = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
DROP TRIGGER IF EXISTS audit_log_no_update_or_delete ON audit_log;
DROP FUNCTION IF EXISTS audit_log_append_only();
"""


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("agreement_clause", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=300), nullable=True))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.execute(
        "INSERT INTO audit_head (id, prev_hash, entry_hash) SELECT 1, '', COALESCE("
        "(SELECT entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1), '" + "0" * 64 + "')"
    )
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=60), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_recorded_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    op.create_index(op.f("ix_consent_child_id"), "consent", ["child_id"])
    op.create_table(
        "break_glass",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("organisation", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("child_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_state", sa.String(length=16), nullable=False),
        sa.Column("reviewed_by", sa.String(length=120), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.CheckConstraint("review_state IN ('open', 'closed')", name=op.f("ck_break_glass_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass")),
    )
    op.create_index(op.f("ix_break_glass_child_id"), "break_glass", ["child_id"])
    op.create_index(op.f("ix_break_glass_review_state"), "break_glass", ["review_state"])
    op.create_index(op.f("ix_source_record_birth_date"), "source_record", ["birth_date"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_APPEND_ONLY)
    op.drop_index(op.f("ix_source_record_birth_date"), table_name="source_record")
    op.drop_index(op.f("ix_break_glass_review_state"), table_name="break_glass")
    op.drop_index(op.f("ix_break_glass_child_id"), table_name="break_glass")
    op.drop_table("break_glass")
    op.drop_index(op.f("ix_consent_child_id"), table_name="consent")
    op.drop_table("consent")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("agreement_clause")
