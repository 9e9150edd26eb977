"""Connectors outside the team

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 17:50:00

A request's connector may be someone outside Slack (a customer, an investor, an advisor): such a
request has an empty connector_id and connector_outside set; the connector's name is in
connector_name, their email and the two ties (how they know the target, how the requester knows
them) in the new columns. The requester forwards the ask and reports each step.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added columns, not a table rebuild: on SQLite a rebuild loses the expression indexes.
    op.add_column(
        "intro_requests",
        sa.Column("connector_outside", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    for name, kind in (
        ("connector_email", sa.String(254)),
        ("connector_knows_target", sa.Text()),
        ("requester_knows_connector", sa.Text()),
    ):
        op.add_column("intro_requests", sa.Column(name, kind, nullable=False, server_default=""))
    op.create_index(
        "ix_intro_requests_team_connector_email",
        "intro_requests",
        ["team_id", "connector_email", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_intro_requests_team_connector_email", table_name="intro_requests")
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        batch_op.drop_column("requester_knows_connector")
        batch_op.drop_column("connector_knows_target")
        batch_op.drop_column("connector_email")
        batch_op.drop_column("connector_outside")
