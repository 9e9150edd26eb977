"""intro offers: a connector offers a teammate an intro

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 16:10:00

A connector who thinks a teammate should meet someone offers it (`/intro offer`, App Home);
the teammate takes it (the request starts accepted by the connector) or passes. Kept so the
funnel counts offers, and so taking an offer twice makes one request.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intro_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("connector_id", sa.String(length=32), nullable=False),
        sa.Column("rep_id", sa.String(length=32), nullable=False),
        sa.Column("target_name", sa.String(length=150), nullable=False),
        sa.Column("company", sa.String(length=150), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["intro_requests.id"],
            name=op.f("fk_intro_offers_request_id_intro_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intro_offers")),
    )
    op.create_index("ix_intro_offers_team_status", "intro_offers", ["team_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_intro_offers_team_status", table_name="intro_offers")
    op.drop_table("intro_offers")
