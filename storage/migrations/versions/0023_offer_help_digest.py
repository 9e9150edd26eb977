"""The offer-help digest

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 21:00:00

digest_accounts: what each connector was last told of an account teammates are working where
they know people, and the accounts they said are not for them. connector_prefs.offer_help:
whether they get the digest at all (on until they turn it off).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_accounts",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("connector_id", sa.String(32), nullable=False),
        sa.Column("company_key", sa.String(200), nullable=False),
        sa.Column("told", sa.Text(), server_default="", nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.Column("not_for_me_until", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "team_id", "connector_id", "company_key", name="pk_digest_accounts"
        ),
    )
    with op.batch_alter_table("connector_prefs") as batch:
        batch.add_column(
            sa.Column("offer_help", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("connector_prefs") as batch:
        batch.drop_column("offer_help")
    op.drop_table("digest_accounts")
