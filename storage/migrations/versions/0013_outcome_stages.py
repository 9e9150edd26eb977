"""outcome stages: the date of each, and requests that can still move on

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 16:10:00

The outcome is a stage now (meeting held -> opportunity -> closed-won / closed-lost): each
stage's date gets a column, and a request whose reported outcome was a meeting, an opportunity
or no response stays open for the next stage (its status says which).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAGE_COLUMNS = {
    "meeting_at": "meeting_held",
    "opportunity_at": "opportunity",
    "won_at": "closed_won",
}
# Outcomes that were final before and are a stage with more to come now.
_OPEN_AGAIN = ("meeting_held", "opportunity", "no_response")


def upgrade() -> None:
    # Added columns, not a table rebuild: on SQLite a rebuild loses the expression indexes.
    for name in (*_STAGE_COLUMNS, "lost_at"):
        op.add_column(
            "intro_requests",
            sa.Column(name, storage.models.UTCDateTime(timezone=True), nullable=True),
        )
    requests = sa.table(
        "intro_requests",
        sa.column("status", sa.String()),
        sa.column("outcome", sa.String()),
        sa.column("outcome_at", sa.DateTime()),
        *(sa.column(name, sa.DateTime()) for name in _STAGE_COLUMNS),
    )
    for column, outcome in _STAGE_COLUMNS.items():
        op.execute(
            requests.update()
            .where(requests.c.outcome == outcome)
            .values({column: requests.c.outcome_at})
        )
    for outcome in _OPEN_AGAIN:
        op.execute(
            requests.update()
            .where(requests.c.status == "closed", requests.c.outcome == outcome)
            .values(status=outcome)
        )


def downgrade() -> None:
    requests = sa.table("intro_requests", sa.column("status", sa.String()))
    op.execute(requests.update().where(requests.c.status.in_(_OPEN_AGAIN)).values(status="closed"))
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        for name in ("lost_at", *reversed(list(_STAGE_COLUMNS))):
            batch_op.drop_column(name)
