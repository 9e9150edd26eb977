"""A workspace's default pacing for every connector

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 18:00:00

workspace_settings.default_max_open and default_max_per_30_days: the limits that hold for a
connector who has not set their own (`/intro pacing default ...`). NULL is introbot's default
(3 open asks, 6 in 30 days); 0 is no limit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspace_settings") as batch:
        batch.add_column(sa.Column("default_max_open", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("default_max_per_30_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspace_settings") as batch:
        batch.drop_column("default_max_per_30_days")
        batch.drop_column("default_max_open")
