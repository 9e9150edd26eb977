"""CRM push

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 22:30:00

crm_connections: a workspace's HubSpot or Salesforce connection, its credentials encrypted.
intro_requests: the target's email for the push (then only its hash), and the CRM record the
pushes wrote.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_connections",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("account", sa.String(200), nullable=False, server_default=""),
        sa.Column("connected_by", sa.String(32), nullable=False),
        sa.Column("connected_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paused_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_reason", sa.Text(), nullable=True),
    )
    with op.batch_alter_table("intro_requests") as batch:
        batch.add_column(sa.Column("target_email", sa.String(254), nullable=True))
        batch.add_column(sa.Column("target_email_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("crm_object_type", sa.String(32), nullable=True))
        batch.add_column(sa.Column("crm_object_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intro_requests") as batch:
        batch.drop_column("crm_object_id")
        batch.drop_column("crm_object_type")
        batch.drop_column("target_email_hash")
        batch.drop_column("target_email")
    op.drop_table("crm_connections")
