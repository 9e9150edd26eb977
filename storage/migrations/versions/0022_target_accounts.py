"""Target-account lists

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 20:00:00

target_accounts: the accounts on a rep's list, or on the workspace's list (list_owner_id ""),
keyed by company like contacts and account owners, so coverage can join them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "target_accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("list_owner_id", sa.String(32), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("company_key", sa.String(200), nullable=False),
        sa.Column("domain", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("added_by", sa.String(32), nullable=False),
        sa.Column("added_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "team_id", "list_owner_id", "company_key", name="uq_target_accounts_team_id"
        ),
    )
    op.create_index(
        "ix_target_accounts_team_company", "target_accounts", ["team_id", "company_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_target_accounts_team_company", table_name="target_accounts")
    op.drop_table("target_accounts")
