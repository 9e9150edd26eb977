"""every path after a no: re-asks linked to the request they follow, and cold approaches

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 16:10:00

A request made after an earlier one for the same person ran into a dead end (a decline, a
stall, no response) points back at it (previous_request_id), so the funnel counts one person
with two paths. It replaces redirected_from_id, which only a stalled ask's replacement set: its
values are copied over. A cold approach (the requester writes to the target directly) is a
request with went_cold_at set; it has no connector, stored as an empty connector_id, so the
NOT NULL column needs no table rebuild (which on SQLite would lose the expression indexes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added columns, not a table rebuild: on SQLite a rebuild loses the expression indexes.
    # No foreign key on the new column: SQLite cannot add one without a rebuild either.
    op.add_column("intro_requests", sa.Column("previous_request_id", sa.Integer()))
    op.add_column("intro_requests", sa.Column("went_cold_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_intro_requests_previous_request_id", "intro_requests", ["previous_request_id"]
    )
    op.execute(
        "UPDATE intro_requests SET previous_request_id = redirected_from_id"
        " WHERE redirected_from_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_intro_requests_previous_request_id", table_name="intro_requests")
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        batch_op.drop_column("went_cold_at")
        batch_op.drop_column("previous_request_id")
