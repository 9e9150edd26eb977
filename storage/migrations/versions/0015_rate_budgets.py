"""Slack rate budgets shared by every replica, and the index the fair sweep claims by

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 16:30:00

rate_budgets holds one GCRA budget per workspace, Web API method and scope (a channel, or ''
for the whole workspace): the theoretical arrival time of the next call (bot.delivery.pace).
ix_outbound_messages_team_due lets the sweep find the workspaces with due messages and claim
each one's share without walking another workspace's backlog.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_budgets",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("method", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("tat", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_outbound_messages_team_due", "outbound_messages", ["status", "team_id", "due_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_messages_team_due", table_name="outbound_messages")
    op.drop_table("rate_budgets")
