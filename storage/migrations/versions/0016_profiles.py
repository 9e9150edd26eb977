"""Teammates' Slack profiles, kept warm for every replica

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 23:40:00

profiles holds what Slack last said of each teammate (name, title, email, time zone, bot,
deactivated), from users.list, users.info and user_change events. profile_listings records when
each workspace's members were last listed, so one replica lists them at a time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("refreshed_at", storage.models.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "profile_listings",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("listed_at", storage.models.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("profile_listings")
    op.drop_table("profiles")
