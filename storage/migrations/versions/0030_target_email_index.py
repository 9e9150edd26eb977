"""Index the requests still holding a target's email

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 00:25:00

intro_requests: a partial index of the requests whose target's email is still kept in plain
text, so the sweep that hashes leftovers reads those few rather than every request.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEPT = sa.text("target_email IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_intro_requests_target_email_kept",
        "intro_requests",
        ["id"],
        postgresql_where=KEPT,
        sqlite_where=KEPT,
    )


def downgrade() -> None:
    op.drop_index("ix_intro_requests_target_email_kept", table_name="intro_requests")
