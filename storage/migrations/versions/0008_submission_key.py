"""the submitted form's id on a request, unique per workspace

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 14:30:00

The same form submitted twice (a double click, Slack's retry, two replicas) passed the
"already asked" check twice and stored two requests. The view id is the idempotency key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A unique index, not a constraint: on SQLite a constraint means rebuilding the table, which
    # would lose the expression indexes on lower(target_name) and lower(target_company).
    op.add_column("intro_requests", sa.Column("submission_key", sa.String(length=64)))
    op.create_index(
        "uq_intro_requests_submission",
        "intro_requests",
        ["team_id", "submission_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_intro_requests_submission", table_name="intro_requests")
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        batch_op.drop_column("submission_key")
