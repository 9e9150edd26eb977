"""Managers' teams and their charts

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 20:00:00

team_members: the teammates (or Slack user groups) an admin named as a manager's team;
team_charts: the chart file last uploaded for each manager, with a hash of what it shows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("manager_id", sa.String(32), primary_key=True),
        sa.Column("member_id", sa.String(32), primary_key=True),
        sa.Column("is_group", sa.Boolean(), nullable=False),
        sa.Column("handle", sa.String(100), nullable=False),
        sa.Column("added_by", sa.String(32), nullable=False),
        sa.Column("added_at", storage.models.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "team_charts",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("manager_id", sa.String(32), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("uploaded_at", storage.models.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("team_charts")
    op.drop_table("team_members")
