"""allowed states: CHECK constraints on quarantine, link and link_review

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CHECKS = {
    "quarantine": {
        "stage": "stage IN ('connector', 'mapping', 'validation')",
        "status": "status IN ('quarantined', 'rejected', 'released')",
    },
    "link": {
        "state": "state IN ('MATCH', 'POSSIBLE_MATCH', 'NO_MATCH')",
        "origin": "origin IN ('AUTO', 'MANUAL')",
    },
    "link_review": {"status": "status IN ('open', 'accepted', 'rejected')"},
}


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for name, condition in checks.items():
                batch_op.create_check_constraint(op.f(f"ck_{table}_{name}"), condition)


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for name in checks:
                batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
